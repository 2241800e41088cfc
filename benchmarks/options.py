"""Settings shared by the sections (sizes, repeats, folders), with the smoke-test sizes."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ci import env

HERE = Path(__file__).resolve().parent
# A tiny notebook that records one result: smoke runs execute it instead of the course's labs.
SMOKE_NOTEBOOK = HERE / "smoke.ipynb"


@dataclass
class Options:
    smoke: bool = False
    out_dir: Path = HERE
    work_dir: Path = field(default_factory=lambda: env.BUILD / "bench")
    # Training speed: images per timed epoch, timed epochs per variant (after one warm-up epoch).
    speed_images: int = 6000
    repeats: int = 5
    # Mixed-precision and XLA variants even without a GPU (to test them; slow on a CPU).
    all_variants: bool = False
    # Grading throughput: copies of the reference solution graded by each method, per lab where
    # lab_submissions names it (--submissions LAB=N), and whether a local Dask cluster grades them too.
    submissions: int = 100
    lab_submissions: dict = field(default_factory=dict)
    grading_dask: bool = True
    # Seeds beside ours: None runs both sides as written; N lets every fit/evaluate/predict see only the
    # first N examples, for one epoch (the smoke run).
    seed_examples: int | None = None
    # Seeds beside ours: how many times ours trains (the notebook's seed, then seeds 1, 2, ...): the spread;
    # per pair where pair_ours_repeats names it (--ours-repeats PAIR=N).
    ours_repeats: int = 1
    pair_ours_repeats: dict = field(default_factory=dict)
    # CIFAR-10 ablation: every row trains from seeds 1 to N (the same seeds for all rows, so that rows differ by
    # one ingredient and are compared seed by seed).
    ablation_seeds: int = 1
    # Full-mode notebooks train for minutes per cell on a CPU (also the limit of one side in the seeds section).
    cell_timeout: int = 4 * 3600

    @classmethod
    def smoke_sizes(cls, out_dir: Path) -> "Options":
        return cls(smoke=True, out_dir=out_dir, work_dir=out_dir / "work", speed_images=256, repeats=2,
                   submissions=2, seed_examples=256, ours_repeats=2, cell_timeout=600)

    def submissions_of(self, lab: str) -> int:
        return self.lab_submissions.get(lab, self.submissions)

    def ours_repeats_of(self, pair: str) -> int:
        return self.pair_ours_repeats.get(pair, self.ours_repeats)
