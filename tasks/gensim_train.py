"""word2vec and fastText training with gensim on a tokenised corpus file.

The vocabulary is given (words and counts from the vocab stage) instead of
being rescanned from the text, so row i of the result is word i of the
vocabulary and gensim's subsampling sees the same counts.
"""
from __future__ import annotations

import numpy as np

__all__ = ["train_gensim", "GENSIM_METHODS"]

GENSIM_METHODS = ("word2vec", "fasttext")


def train_gensim(corpus_file, words, counts, *, method, total_words, corpus_count,
                 vector_size, window, epochs, seed, workers, sg, hs, negative, ns_exponent,
                 sample, alpha, min_alpha, min_n=3, max_n=6, bucket=2_000_000,
                 shrink_windows=True):
    """Train word2vec or fastText vectors for a fixed vocabulary.

    Parameters
    ----------
    corpus_file : str
        Local text file, one document per line, tokens separated by spaces
        (gensim's fastest ``corpus_file`` mode).
    words : sequence of str, shape (V,)
    counts : sequence of int, shape (V,)
        Corpus counts of ``words``; all of them are kept.
    method : {"word2vec", "fasttext"}
    total_words : int
        Tokens in ``corpus_file`` (all of them, in or out of the vocabulary).
    corpus_count : int
        Documents (lines) in ``corpus_file``.
    vector_size, window, epochs, seed, workers, sg, hs, negative, ns_exponent,
    sample, alpha, min_alpha, shrink_windows :
        gensim's parameters of the same names.
    min_n, max_n, bucket : int
        fastText character n-gram lengths and hash buckets.

    Returns
    -------
    vectors : ndarray of shape (V, vector_size), float32
        Row i is the vector of ``words[i]``.
    model : gensim Word2Vec or FastText
        The trained model (fastText's gives vectors to unseen words too).
    """
    from gensim.models import FastText, Word2Vec

    if method not in GENSIM_METHODS:
        raise ValueError(f"method must be one of {GENSIM_METHODS}, got {method!r}")
    common = dict(vector_size=vector_size, window=window, min_count=1, workers=workers,
                  sg=sg, hs=hs, negative=negative, ns_exponent=ns_exponent, sample=sample,
                  alpha=alpha, min_alpha=min_alpha, seed=seed, epochs=epochs,
                  shrink_windows=shrink_windows)
    if method == "fasttext":
        model = FastText(min_n=min_n, max_n=max_n, bucket=bucket, **common)
    else:
        model = Word2Vec(**common)
    model.build_vocab_from_freq(dict(zip(words, (int(c) for c in counts))),
                                corpus_count=corpus_count)
    model.train(corpus_file=corpus_file, total_words=total_words, epochs=epochs)
    vectors = np.stack([model.wv[w] for w in words]).astype(np.float32, copy=False)
    return vectors, model
