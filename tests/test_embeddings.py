"""course.embeddings: embedding matrix and its index-correctness proof, coverage, similarity, projections."""

import keras
import numpy as np
import pytest

from course import embeddings
from course.datasets import glove, imdb


@pytest.fixture(scope="module")
def glove_index(data_dir):
    return glove.load(100)


@pytest.fixture(scope="module")
def toy_vectorizer():
    vectorizer = keras.layers.TextVectorization(max_tokens=12, output_sequence_length=8)
    vectorizer.adapt(["The movie was good, really good!", "A bad movie.", "The film was zzyzx; the zzyzx film."])
    return vectorizer


def tokenize_with(vectorizer):
    return lambda words: np.asarray(vectorizer(words))


def test_matrix_rows_follow_the_tokenizer_and_zero_the_rest(glove_index, toy_vectorizer):
    vocabulary = toy_vectorizer.get_vocabulary()
    assert vocabulary[:2] == ["", "[UNK]"] and "zzyzx" in vocabulary
    matrix = embeddings.embedding_matrix(vocabulary, glove_index)
    assert matrix.shape == (len(vocabulary), 100) and matrix.dtype == np.float32
    assert not matrix[0].any() and not matrix[1].any(), "padding and [UNK] rows are zero"
    assert not matrix[vocabulary.index("zzyzx")].any(), "a word without a vector gets zeros"
    np.testing.assert_array_equal(matrix[vocabulary.index("movie")], glove_index["movie"])
    checked = embeddings.check_embedding_matrix(matrix, vocabulary, glove_index, tokenize_with(toy_vectorizer))
    assert checked == len(vocabulary) - 3  # all words but padding, [UNK] and zzyzx


def test_the_check_catches_a_matrix_shifted_by_one_row(glove_index, toy_vectorizer):
    """The pitfall of Chollet's notebooks: rows numbered from 1 while the tokenizer counts from 0 (or back)."""
    vocabulary = toy_vectorizer.get_vocabulary()
    matrix = embeddings.embedding_matrix(vocabulary, glove_index)
    shifted = np.zeros_like(matrix)
    shifted[1:] = matrix[:-1]
    with pytest.raises(AssertionError, match="look up the wrong row"):
        embeddings.check_embedding_matrix(shifted, vocabulary, glove_index, tokenize_with(toy_vectorizer))
    with pytest.raises(AssertionError, match="rows for a vocabulary"):
        embeddings.check_embedding_matrix(matrix[:-1], vocabulary, glove_index, tokenize_with(toy_vectorizer))
    lost = matrix.copy()
    lost[vocabulary.index("zzyzx")] = 1.0  # a vector invented for a word GloVe does not know
    with pytest.raises(AssertionError, match="'zzyzx'"):
        embeddings.check_embedding_matrix(lost, vocabulary, glove_index, tokenize_with(toy_vectorizer))


def test_a_frozen_embedding_layer_outputs_the_glove_vectors_of_a_sentence(glove_index, toy_vectorizer):
    vocabulary = toy_vectorizer.get_vocabulary()
    matrix = embeddings.embedding_matrix(vocabulary, glove_index)
    layer = keras.layers.Embedding(len(vocabulary), 100, trainable=False)
    layer.build((None, 8))
    layer.set_weights([matrix])
    sentence = "the film was good"
    looked_up = np.asarray(layer(toy_vectorizer([sentence])))[0]
    for position, word in enumerate(sentence.split()):
        np.testing.assert_array_equal(looked_up[position], glove_index[word])
    assert not looked_up[len(sentence.split()):].any(), "padding positions look up the zero row"


def test_coverage_counts_words_and_tokens(glove_index, toy_vectorizer):
    vocabulary = toy_vectorizer.get_vocabulary()
    sequences = np.asarray(toy_vectorizer(["the zzyzx film", "good good zzyzx"]))
    result = embeddings.coverage(vocabulary, glove_index, sequences)
    assert (result.words, result.covered_words) == (len(vocabulary) - 2, len(vocabulary) - 3)
    assert (result.tokens, result.covered_tokens) == (6, 4)
    assert result.missing == ("zzyzx",)
    assert "66.7% of the 6 word tokens" in str(result) and "zzyzx" in str(result)


def test_cosine_similarity_matches_its_definition():
    rng = np.random.default_rng(1)
    u, v = rng.normal(size=50), rng.normal(size=50)
    assert embeddings.cosine_similarity(u, v) == pytest.approx(u @ v / np.linalg.norm(u) / np.linalg.norm(v))
    assert embeddings.cosine_similarity(u, 3 * u) == pytest.approx(1.0)
    assert embeddings.cosine_similarity(u, -u) == pytest.approx(-1.0)
    with pytest.raises(ValueError, match="zero vector"):
        embeddings.cosine_similarity(u, np.zeros(50))


def test_neighbours_and_analogies_in_glove(glove_index):
    neighbours = embeddings.nearest_neighbours("monday", glove_index, k=4)
    assert {w for w, _ in neighbours} <= {"tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"}
    scores = [s for _, s in neighbours]
    assert scores == sorted(scores, reverse=True)
    assert scores[0] == pytest.approx(embeddings.cosine_similarity(glove_index["monday"], glove_index[neighbours[0][0]]), abs=1e-6)
    assert embeddings.analogy("man", "king", "woman", glove_index)[0][0] == "queen"
    assert embeddings.analogy("france", "paris", "germany", glove_index)[0][0] == "berlin"


def test_out_of_vocabulary_words_are_a_clear_error(glove_index):
    with pytest.raises(embeddings.OutOfVocabularyError, match="'zzyzx' is not among the 2,604 words"):
        embeddings.nearest_neighbours("zzyzx", glove_index)
    with pytest.raises(KeyError, match="lowercased"):
        embeddings.vector("Paris", glove_index)


def test_projection_keeps_groups_apart(glove_index):
    days, numbers = ["monday", "tuesday", "friday"], ["two", "three", "five"]
    points = embeddings.project_2d(days + numbers, glove_index)
    assert points.shape == (6, 2)
    spread = lambda p: np.linalg.norm(p - p.mean(axis=0), axis=1).max()  # noqa: E731
    gap = np.linalg.norm(points[:3].mean(axis=0) - points[3:].mean(axis=0))
    assert gap > 2 * max(spread(points[:3]), spread(points[3:]))


@pytest.fixture(scope="module")
def imdb_train_texts(data_dir):
    (train_texts, _), _ = imdb.load_texts()
    return train_texts


@pytest.fixture(scope="module")
def imdb_reviews(imdb_train_texts):
    return [text.replace("<br />", " ") for text in imdb_train_texts[:3000]]


def test_index_correctness_on_imdb_with_text_vectorization(glove_index, imdb_reviews):
    """For every word of a real 10,000-word IMDB vocabulary, the row at its tokenizer index is its GloVe vector."""
    vectorizer = keras.layers.TextVectorization(max_tokens=10_000, output_sequence_length=100)
    vectorizer.adapt(imdb_reviews)
    vocabulary = vectorizer.get_vocabulary()
    assert len(vocabulary) == 10_000
    matrix = embeddings.embedding_matrix(vocabulary, glove_index)
    tokenize = lambda words: np.asarray(vectorizer(words))  # noqa: E731
    # Every word's own index is its position in the vocabulary (so rows are looked up where they were put) ...
    np.testing.assert_array_equal(tokenize(vocabulary[2:])[:, 0], np.arange(2, len(vocabulary)))
    # ... and that row is its GloVe vector, or zero for a word GloVe lacks.
    covered = embeddings.check_embedding_matrix(matrix, vocabulary, glove_index, tokenize)
    assert covered == sum(w in glove_index for w in vocabulary[2:]) > 1500

    # End to end, through a frozen Embedding layer on real reviews: position by position.
    layer = keras.layers.Embedding(len(vocabulary), 100, trainable=False)
    layer.build((None, 100))
    layer.set_weights([matrix])
    ids = tokenize(imdb_reviews[:20])
    outputs = np.asarray(layer(ids))
    for review_ids, review_vectors in zip(ids, outputs):
        for token, looked_up in zip(review_ids, review_vectors):
            word = vocabulary[token]
            expected = glove_index.get(word) if token >= 2 else None
            np.testing.assert_array_equal(looked_up, expected if expected is not None else np.zeros(100), err_msg=word)

    shifted = np.roll(matrix, 1, axis=0)
    with pytest.raises(AssertionError, match="look up the wrong row"):
        embeddings.check_embedding_matrix(shifted, vocabulary, glove_index, tokenize)


def test_keras_word_ranks_are_offset_by_index_from(glove_index, imdb_train_texts):
    """Chollet's pitfall: imdb.get_word_index() gives ranks, load_data() encodes rank + index_from (3)."""
    texts = imdb_train_texts
    (encoded, _), _ = imdb.load_data(num_words=10_000)
    seen = {}
    for text, ids in zip(texts[:5], encoded[:5]):
        seen.update({w: i for w, i in zip(imdb.tokenize(text), ids[1:]) if i != 2})
    word_index = imdb.get_word_index()

    def matrix_from_ranks(offset):
        vocabulary = [""] * 10_000
        for word, rank in word_index.items():
            if rank + offset < 10_000:
                vocabulary[rank + offset] = word
        return embeddings.embedding_matrix(vocabulary, glove_index)

    tokenize = lambda words: np.array([[seen[w]] for w in words])  # noqa: E731
    assert embeddings.check_embedding_matrix(matrix_from_ranks(3), list(seen), glove_index, tokenize) > 100
    with pytest.raises(AssertionError, match="look up the wrong row"):
        embeddings.check_embedding_matrix(matrix_from_ranks(0), list(seen), glove_index, tokenize)


def test_agreement_of_a_space_with_itself_rotated_is_complete_and_with_noise_near_chance():
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(200, 20))
    rotation, _ = np.linalg.qr(rng.normal(size=(20, 20)))
    same = embeddings.agreement(vectors, vectors @ rotation * 3.0, k=10)
    assert same.overlap.shape == (200,) and (same.overlap == 10).all() and same.spearman == pytest.approx(1.0)
    unrelated = embeddings.agreement(vectors, rng.normal(size=(200, 50)), k=10)
    assert unrelated.chance == pytest.approx(100 / 199)
    assert abs(unrelated.overlap.mean() - unrelated.chance) < 0.3 and abs(unrelated.spearman) < 0.05
    assert "nearest neighbours" in str(unrelated)


def test_agreement_rejects_mismatched_rows_bad_k_and_zero_vectors():
    vectors = np.eye(5)
    with pytest.raises(ValueError, match="same words"):
        embeddings.agreement(vectors, vectors[:4])
    with pytest.raises(ValueError, match="k=5"):
        embeddings.agreement(vectors, vectors, k=5)
    with pytest.raises(ValueError, match="zero vector"):
        embeddings.agreement(vectors, np.vstack([vectors[:4], np.zeros(5)]), k=2)
