"""The report's sense-inventory section: words whose occurrence-based senses are distinct
and balanced, each sense with its share, naming words and keyword-in-context examples.

Words are chosen by how distinct and balanced their senses are, never by frequency
(frequent words are mostly function words, which have one sense)::

    balance    = H(shares) / log k                entropy of the k sense shares, 1 = equal
    separation = min_{i<j} ||c_i - c_j|| / 2      over the word's sense centroids, in [0, 1]
    score      = balance * separation

The words with k >= 2 of highest score are shown (ties by word).

Why a distance and not 1 - max cosine: a centroid is the mean of unit vectors
centred on the word's own mean (:mod:`pipeline.stages.inventory`), so the centroids
of a word's senses point in nearly opposite directions whatever the senses are
(cos = -0.99 or below for every 2-sense word of the test suite's planted run), and
1 - cos would be about 2 for all of them. Their distance grows with how tight and
how far apart the clusters are (each centroid's norm is at most 1): 1.81 and 1.84
for the planted two-sense words bank and crane, 1.37-1.51 for the words with a
minor second sense there.
"""
from __future__ import annotations

import numpy as np

from .html import Raw, esc, fmt, table

__all__ = ["rank_words", "kwic_html", "section_inventory", "SHOWN_WORDS", "FUNCTION_WORDS",
           "RULE"]

SHOWN_WORDS = 12  # words shown in the section
EXAMPLES_SHOWN = 2  # example contexts a sense
FUNCTION_WORDS = ("the", "of", "and", "to", "in", "a", "is", "that", "for", "it")
RULE = ("Words with at least 2 senses, ranked by balance × separation (not by frequency): "
        "balance = entropy of the sense shares / log(number of senses), 1 when the shares "
        "are equal; separation = half the smallest distance between two of the word's sense "
        "centroids (means of unit context vectors), 1 for tight opposite senses.")


def _group(words, sense_ids):
    """{word: row indices in sense_id order}, words in first-seen order."""
    rows = {}
    for i, w in enumerate(words):
        rows.setdefault(w, []).append(i)
    sense_ids = np.asarray(sense_ids)
    return {w: [idx[j] for j in np.argsort(sense_ids[idx], kind="stable")]
            for w, idx in rows.items()}


def _balance(shares):
    """Entropy of ``shares`` (renormalised to sum 1) over log(len(shares)); 0 if undefined."""
    s = np.asarray(shares, dtype=np.float64)
    s = np.where(np.isfinite(s) & (s > 0), s, 0.0)
    if len(s) < 2 or s.sum() <= 0:
        return 0.0
    p = s[s > 0] / s.sum()
    return float(-(p * np.log(p)).sum() / np.log(len(s)))


def _separation(centroids):
    """Half the smallest distance between two rows of ``centroids`` (n_senses, n_dims)."""
    c = np.asarray(centroids, dtype=np.float64)
    d = np.sqrt(np.maximum(((c[:, None, :] - c[None, :, :]) ** 2).sum(axis=-1), 0.0))
    np.fill_diagonal(d, np.inf)
    return float(d.min() / 2.0)


def rank_words(words, sense_ids, shares, centroids):
    """The words with >= 2 senses, best first, as dicts.

    Parameters
    ----------
    words : sequence of str, length n_rows
        One row per (word, sense).
    sense_ids, shares : array-like of shape (n_rows,)
    centroids : ndarray of shape (n_rows, n_dims)

    Returns
    -------
    list of dict
        ``word, rows`` (row indices in sense_id order), ``balance``, ``separation``,
        ``score``; sorted by score (descending), then word.
    """
    shares = np.asarray(shares, dtype=np.float64)
    centroids = np.asarray(centroids, dtype=np.float64)
    out = []
    for w, idx in _group(words, sense_ids).items():
        if len(idx) < 2:
            continue
        b, s = _balance(shares[idx]), _separation(centroids[idx])
        out.append({"word": w, "rows": idx, "balance": b, "separation": s, "score": b * s})
    out.sort(key=lambda r: (-r["score"], r["word"]))
    return out


def kwic_html(line, word=None):
    """An example line with its ``<<target>>`` highlighted, every piece escaped."""
    line = str(line)
    start = line.find(f"<<{word}>>") if word is not None else -1
    if start >= 0:
        end = start + len(word) + 4
    else:
        start = line.find("<<")
        end = line.find(">>", start + 2) + 2 if start >= 0 else 1
        if start < 0 or end < 2:
            return Raw(f'<span class="kwic">{esc(line)}</span>')
    return Raw(f'<span class="kwic">{esc(line[:start])}<mark>{esc(line[start + 2:end - 2])}'
               f"</mark>{esc(line[end:])}</span>")


def _examples_html(examples, word):
    items = [f"<li>{kwic_html(x, word)}</li>" for x in (examples or [])[:EXAMPLES_SHOWN]
             if x is not None]
    return Raw(f'<ul class="examples">{"".join(items)}</ul>' if items else "")


def _atoms_html(ids, atom_rows):
    """Atom ids, each a link to its row of the atoms table when that row exists."""
    bits = [f'<a href="#atom-{int(a)}">{int(a)}</a>' if int(a) in atom_rows else esc(int(a))
            for a in (ids or []) if a is not None]
    return Raw(", ".join(bits))


def _totals(words, ranked):
    n_senses = {}
    for w in words:
        n_senses[w] = n_senses.get(w, 0) + 1
    line = (f"{fmt(len(n_senses))} words in the inventory, "
            f"{fmt(sum(1 for n in n_senses.values() if n >= 2))} with at least 2 senses. ")
    present = [w for w in FUNCTION_WORDS if w in n_senses]
    if not present:
        return line + f"No function word ({', '.join(FUNCTION_WORDS[:3])}, …) in the inventory."
    one = [w for w in present if n_senses[w] == 1]
    more = [f"{w} ({n_senses[w]})" for w in present if n_senses[w] > 1]
    line += (f"Function words with one sense: {', '.join(one) or 'none'}"
             + (f"; with more: {', '.join(more)}" if more else "") + ".")
    return line


def section_inventory(data):
    """The section's HTML for a ``RunData``."""
    t = data.inventory()
    if t is None:
        return data.missing("sense_inventory", "inventory")
    words = t["word"].to_pylist()
    n_dims = t.schema.field("centroid").type.list_size
    cent = t["centroid"].combine_chunks().flatten().to_numpy(zero_copy_only=False)
    cent = cent.reshape(-1, n_dims) if len(words) else np.zeros((0, max(n_dims, 1)))
    ranked = rank_words(words, t["sense_id"].to_numpy(zero_copy_only=False),
                        t["share"].to_numpy(zero_copy_only=False), cent)
    shown = ranked[:SHOWN_WORDS]
    parts = [f'<p class="note" id="inventory-totals">{esc(_totals(words, ranked))}</p>',
             f'<p class="note" id="inventory-rule">{esc(RULE)} The top {len(shown)} of '
             f"{len(ranked)} are shown.</p>"]
    if not shown:
        return "".join(parts) + '<p class="note">no word has two or more senses</p>'

    def col(name, default=None):
        return t[name].to_pylist() if name in t.column_names else [default] * len(words)

    share, n_occ, top = col("share"), col("n_occurrences"), col("top_words", [])
    atom_ids, examples, sense = col("atom_ids", []), col("examples", []), col("sense_id")
    atoms = data.atoms()
    atom_rows = set(atoms[0]["atom_id"].to_pylist()) if atoms is not None else set()
    summary, rows = [], []
    for i, r in enumerate(shown, start=1):
        idx = r["rows"]
        total = sum(n_occ[j] or 0 for j in idx) if n_occ[idx[0]] is not None else None
        summary.append([str(i), r["word"], str(len(idx)), total, f"{r['balance']:.3f}",
                        f"{r['separation']:.3f}", f"{r['score']:.3f}"])
        for j in idx:
            rows.append([r["word"], str(sense[j]),
                         None if share[j] is None else f"{100 * share[j]:.1f}", n_occ[j],
                         ", ".join(top[j] or []), _atoms_html(atom_ids[j], atom_rows),
                         _examples_html(examples[j], r["word"])])
    parts += [table(["#", "word", "senses", "occurrences", "balance", "separation", "score"],
                    summary, id="inventory-words", numeric={0, 2, 3, 4, 5, 6}),
              '<div class="scroll">',
              table(["word", "sense", "share %", "occurrences", "naming words", "atoms",
                     "example contexts"], rows, id="inventory-senses", numeric={1, 2, 3}),
              "</div>"]
    return "".join(parts)
