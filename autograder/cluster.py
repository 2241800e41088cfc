"""Dask workers for grading on a SLURM cluster or on Kubernetes (README: "Grading on a cluster").

    python -m autograder.cluster slurm [options]              start a scheduler here, submit worker jobs,
                                                              print the address for `batch --scheduler`
    python -m autograder.cluster slurm --print [options]      only print the sbatch job script
    python -m autograder.cluster kubernetes --image IMAGE     print a DaskCluster resource for `kubectl apply -f -`

Every worker is an ordinary ``dask worker`` started in the course's environment: on SLURM the
checkout's ``.venv`` on the shared filesystem, on Kubernetes an image built from the checkout; the
data mirror is ``COURSE_DATA_DIR`` on the nodes (a shared folder, or a read-only volume). Each
worker process grades one submission at a time (one thread), in its own sandbox.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from autograder.pipeline import ROOT

KUBERNETES_DATA = "/data"  # where the pods mount the data mirror


def slurm_options(args) -> dict:
    """dask-jobqueue's SLURMCluster/SLURMJob options: ``processes`` one-thread workers per job, in this checkout."""
    return dict(
        queue=args.queue, account=args.account, cores=args.cores, processes=args.cores, memory=args.memory,
        walltime=args.walltime, job_name="course-grading", python=str(ROOT / ".venv" / "bin" / "python"),
        job_script_prologue=[f"cd {ROOT}", f"export PYTHONPATH={ROOT}", f"export COURSE_DATA_DIR={args.data_dir}"],
    )


def slurm_job_script(args, scheduler: str = "tcp://SCHEDULER:8786") -> str:
    from dask_jobqueue.slurm import SLURMJob

    return SLURMJob(scheduler=scheduler, name="course-grading", **slurm_options(args)).job_script()


def kubernetes_spec(args) -> dict:
    """A DaskCluster resource (dask-kubernetes operator): workers in the course image, the mirror mounted read-only."""
    from dask_kubernetes.operator import make_cluster_spec

    memory = args.memory.replace("GB", "G")
    spec = make_cluster_spec(name=args.name, image=args.image, n_workers=args.workers,
                             resources={"requests": {"cpu": "1", "memory": memory}, "limits": {"memory": memory}},
                             env={"COURSE_DATA_DIR": KUBERNETES_DATA, "PYTHONPATH": "/course"},
                             worker_command=["/course/.venv/bin/dask", "worker", "--nthreads", "1"])
    spec = json.loads(json.dumps(spec))  # no object shared between the pods (YAML would show anchors)
    scheduler = spec["spec"]["scheduler"]["spec"]["containers"][0]
    scheduler["args"] = ["/course/.venv/bin/dask", "scheduler", "--host", "0.0.0.0"]  # no dask-scheduler script
    pod = spec["spec"]["worker"]["spec"]
    pod["volumes"] = [{"name": "course-data", "persistentVolumeClaim": {"claimName": args.data_claim,
                                                                       "readOnly": True}}]
    for container in pod["containers"]:
        container["workingDir"] = "/course"
        container["volumeMounts"] = [{"name": "course-data", "mountPath": KUBERNETES_DATA, "readOnly": True}]
    return spec


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder.cluster", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    where = parser.add_subparsers(dest="where", required=True)
    slurm = where.add_parser("slurm", help="SLURM worker jobs (dask-jobqueue)")
    slurm.add_argument("--jobs", type=int, default=4, help="worker jobs to submit (default 4)")
    slurm.add_argument("--cores", type=int, default=8, help="cores per job = one-thread workers per job (default 8)")
    slurm.add_argument("--memory", default="40GB", help="memory per job (default 40GB: 4 GiB per submission + the "
                                                        "workers)")
    slurm.add_argument("--walltime", default="04:00:00", help="job time limit (default 04:00:00)")
    slurm.add_argument("--queue", default=None, help="SLURM partition (default: the cluster's)")
    slurm.add_argument("--account", default=None, help="SLURM account (default: yours)")
    slurm.add_argument("--data-dir", default=os.environ.get("COURSE_DATA_DIR", "/shared/course-data"),
                       help="the data mirror as the nodes see it (default: COURSE_DATA_DIR)")
    slurm.add_argument("--print", action="store_true", help="print the job script and exit")
    kube = where.add_parser("kubernetes", help="a DaskCluster resource for the dask-kubernetes operator")
    kube.add_argument("--image", required=True, help="the course image (README: Grading on a cluster)")
    kube.add_argument("--workers", type=int, default=8, help="worker pods (default 8)")
    kube.add_argument("--memory", default="5GB", help="memory per worker pod (default 5GB)")
    kube.add_argument("--name", default="course-grading", help="the DaskCluster's name (default course-grading)")
    kube.add_argument("--data-claim", default="course-data", help="PersistentVolumeClaim holding the data mirror")
    args = parser.parse_args(argv)

    if args.where == "kubernetes":
        import yaml

        print(yaml.safe_dump(kubernetes_spec(args), sort_keys=False), end="")
        return 0
    if args.print:
        print(slurm_job_script(args))
        return 0
    from dask_jobqueue import SLURMCluster

    with SLURMCluster(**slurm_options(args)) as cluster:
        cluster.scale(jobs=args.jobs)
        print(f"scheduler: {cluster.scheduler_address} (dashboard {cluster.dashboard_link})\n"
              f"grade with: make grade LAB=<lab> SUBMISSIONS=<zip> GRADE_ARGS='--scheduler "
              f"{cluster.scheduler_address}'   (Ctrl-C here stops the workers)", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
