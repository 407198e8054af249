"""``wsi assign`` at scale: labels against a brute-force single-context computation,
partition-independent clustering, Parquet/directory input and output, resuming after
a kill, object storage (moto's S3 server) and a ``dask scheduler`` with workers."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import base_args, planted_sense_corpus, planted_settings
from servers import BIN, cluster, s3  # noqa: F401  (fixtures)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from pipeline.cli import main
    tmp = tmp_path_factory.mktemp("engine")
    _atoms, _names, _topic, corpus, vf, doc_topic = planted_sense_corpus(
        tmp, {"tie": (0, 1), "bank": (2, 3)}, n_docs=1200)
    args = base_args(tmp / "out", [corpus], *planted_settings(
        vf, "senses.clusters=2", "inventory.min_count=100"), stages="context,induce,senses,inventory")
    assert main([str(a) for a in args]) == 0
    docs = corpus.read_text().split("\n")[:-1]
    lines = []
    for i, doc in enumerate(docs):
        tokens = doc.split()
        for word in ("tie", "bank"):
            if word in tokens:
                p = tokens.index(word)
                # a few lines put the target at the very start or end
                lo, hi = (0, p + 1) if i % 17 == 0 else (max(0, p - 12), p + 13)
                text = " ".join(tokens[lo:p] + [f"<<{word}>>"] + tokens[p + 1:hi])
                lines.append({"id": f"{word}-{i}", "context": text + ("," if i % 5 else "")})
    return tmp / "out" / "t", lines, tmp


def _write_jsonl(path, lines):
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    return path


def _brute_force_atoms(run_dir, texts):
    """The atoms rule computed from the run's files with dense numpy, one text at a time:
    (best atom or None) per text."""
    from tasks.tokenize import tokenize
    m = json.loads((run_dir / "manifest.json").read_text())["config"]
    vocab = pq.read_table(run_dir / "vocab.parquet").to_pandas()
    emb = pq.read_table(run_dir / "embeddings.parquet")
    words = emb["word"].to_pylist()
    vec = np.stack(emb["vector"].to_numpy(zero_copy_only=False)).astype(float)
    count = dict(zip(vocab["word"], vocab["count"]))
    total = vocab["count"].sum()
    a = m["context"]["sif_a"]
    weight = np.array([a / (a + count[w] / total) for w in words])
    index = {w: i for i, w in enumerate(words)}
    common = np.load(run_dir / "induction_common.npy")
    A, b = np.load(run_dir / "induction_map.npy"), np.load(run_dir / "induction_intercept.npy")
    atoms = np.stack(pq.read_table(run_dir / "atoms.parquet")["vector"].to_numpy(
        zero_copy_only=False)).astype(float)
    senses = pq.read_table(run_dir / "senses.parquet").to_pandas()
    k = m["senses"]["assign_max"]
    win = m["induce"]["window"]
    out = []
    for text in texts:
        start = text.index("<<")
        end = text.index(">>")
        left = tokenize(text[:start])
        target = tokenize(text[start + 2:end])
        right = tokenize(text[end + 2:])
        ctx = [index[t] for t in left[-win:] + right[:win] if t in index]
        rows = senses[senses.word == " ".join(target)].sort_values("rank")[:k or None]
        if not ctx or rows.empty:
            out.append(None)
            continue
        u = (vec[ctx] * weight[ctx, None]).mean(axis=0)
        u = u - common.T @ (common @ u)
        v = A @ u + b
        cos = [np.sign(c) * atoms[i] @ v / np.linalg.norm(atoms[i]) / np.linalg.norm(v)
               for i, c in zip(rows.atom_id, rows.coefficient)]
        out.append(int(rows.atom_id.iloc[int(np.argmax(cos))]))
    return out


def test_atoms_labels_equal_a_brute_force_single_context_computation(run, wsi):
    run_dir, lines, tmp = run
    src = _write_jsonl(tmp / "atoms.jsonl", lines)
    out = tmp / "atoms.parquet"
    code, _o, err = wsi("assign", "--run", run_dir, "--input", src, "--output", out,
                        "--method", "atoms", "--set", "assign.partition_bytes=4096")
    assert code == 0, err
    t = pq.read_table(out).to_pandas()
    assert list(t.id) == [x["id"] for x in lines]
    expected = _brute_force_atoms(run_dir, [x["context"] for x in lines])
    got = [None if np.isnan(s) else int(s) for s in t.sense]
    assert sum(e is not None for e in expected) > 0.9 * len(lines)
    assert got == expected
    # the single-context path gives the same label
    for x, label in list(zip(lines, got))[:3]:
        code, o, err = wsi("assign", "--run", run_dir, "--text", x["context"], "--method",
                           "atoms")
        assert code == 0 and json.loads(o)["atom_id"] == label


def test_inventory_labels_every_line_as_its_single_context_does(run, wsi):
    from sklearn.metrics import v_measure_score
    run_dir, lines, tmp = run
    inv = pq.read_table(run_dir / "sense_inventory.parquet").to_pandas()
    assert set(inv[inv.word.isin(["tie", "bank"])].groupby("word").size()) == {2}
    extra = [{"id": "unseen", "context": "w0x1 w0x2 <<zzz>> w0x3"},  # not in the inventory
             {"id": "w1x3", "context": "w1x4 w1x5 <<w1x3>> w1x6 w1x7"}]
    src = _write_jsonl(tmp / "inv.jsonl", lines + extra)
    t = _assign(wsi, run_dir, src, tmp / "inv.parquet", "--method", "inventory",
                "--set", "assign.partition_bytes=4096").to_pandas()
    for word, (a, b) in (("tie", (0, 1)), ("bank", (2, 3))):
        rows = t[t.word == word]
        assert (rows.method == "inventory").all() and rows.error.isna().all()
        assert v_measure_score([_doc_topic(run, r) for r in rows.id], rows.sense) > 0.5
    by_id = t.set_index("id")
    assert by_id.loc["unseen", "method"] == "atoms"  # no entry: the atoms rule names itself
    for x in lines + extra:
        code, o, _err = wsi("assign", "--run", run_dir, "--text", x["context"], "--method",
                            "inventory")
        r = json.loads(o)
        want = by_id.loc[x["id"]]
        assert (r["method"], r["sense"]) == (want["method"], None if np.isnan(want["sense"])
                                             else int(want["sense"])), x
        if r["method"] == "inventory":  # named as the inventory table names the sense
            row = inv[(inv.word == r["word"]) & (inv.sense_id == r["sense"])].iloc[0]
            assert r["top_words"] == list(row.top_words) and r["top_words"], x
    # an inventory row's atoms are its sense's naming atoms (the table's atom_ids)
    named = t[t.method == "inventory"].merge(inv, left_on=["word", "sense"],
                                             right_on=["word", "sense_id"], how="left")
    assert len(named) == (t.method == "inventory").sum() > 0
    assert all(list(a) == list(b) and len(a) for a, b in zip(named.atoms, named.atom_ids))


def _assign(wsi, run_dir, src, out, *extra):
    code, _o, err = wsi("assign", "--run", run_dir, "--input", src, "--output", out, *extra)
    assert code == 0, err
    return pq.read_table(out) if str(out).endswith(".parquet") else pq.read_table(
        sorted(p for p in out.iterdir() if p.name.startswith("part-")))


@pytest.mark.parametrize("cap", [10**6, 50])
def test_clustering_does_not_depend_on_the_partitioning(run, wsi, cap):
    from sklearn.metrics import v_measure_score
    run_dir, lines, tmp = run
    src = _write_jsonl(tmp / "cluster.jsonl", lines)
    whole = _assign(wsi, run_dir, src, tmp / f"whole{cap}.parquet",
                    "--set", f"assign.sample_cap={cap}")
    parts = _assign(wsi, run_dir, src, tmp / f"parts{cap}.parquet",
                    "--set", f"assign.sample_cap={cap}", "--set", "assign.partition_bytes=2048",
                    "--scheduler", "processes", "--workers", "2")
    assert whole.equals(parts)
    t = whole.to_pandas()
    # each word clustered on its own: the planted halves come out
    for word, (a, b) in (("tie", (0, 1)), ("bank", (2, 3))):
        rows = t[t.word == word]
        assert len(rows) > 100 and rows.error.isna().all()
        truth = [_doc_topic(run, r) for r in rows.id]
        assert np.isin(truth, [a, b]).mean() > 0.9
        assert v_measure_score(truth, rows.sense) > 0.5


def _doc_topic(run, ident):
    """The planted topic of the document a line came from (the majority of its tokens')."""
    run_dir, lines, _tmp = run
    text = next(x["context"] for x in lines if x["id"] == ident)
    topics = [int(t[1]) for t in text.replace("<<", " ").replace(">>", " ").replace(",", " ")
              .split() if t.startswith("w") and "x" in t]
    return max(set(topics), key=topics.count)


def test_parquet_input_directory_output_and_resume(run, wsi):
    run_dir, lines, tmp = run
    src = tmp / "batch.parquet"
    pq.write_table(pa.Table.from_pylist(lines), src, row_group_size=100)
    n_groups = pq.ParquetFile(src).num_row_groups
    out = tmp / "dataset"
    first = _assign(wsi, run_dir, src, out)
    parts = sorted(p for p in out.iterdir() if p.name.startswith("part-"))
    assert len(parts) == n_groups > 3 and (out / "_batch.json").exists()
    assert first.column("id").to_pylist() == [x["id"] for x in lines]
    kept = {p.name: p.stat().st_mtime_ns for p in parts[1:]}
    parts[0].unlink()
    (out / "part-00002.parquet.1234abcd.tmp").write_bytes(b"torn")  # a killed writer's
    code, o, err = wsi("assign", "--run", run_dir, "--input", src, "--output", out)
    assert code == 0 and f"{n_groups - 1} of {n_groups} partition(s) kept" in o, (o, err)
    again = pq.read_table(sorted(p for p in out.iterdir() if p.name.startswith("part-")))
    assert again.equals(first)
    assert {p.name: p.stat().st_mtime_ns for p in sorted(out.iterdir())
            if p.name in kept} == kept
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]
    other = _write_jsonl(tmp / "other.jsonl", lines[:10])
    code, _o, err = wsi("assign", "--run", run_dir, "--input", other, "--output", out)
    assert code == 2 and "holds the output of another batch" in err


def test_a_killed_batch_resumes_to_the_same_output(run, wsi, tmp_path):
    run_dir, lines, _tmp = run
    src = _write_jsonl(tmp_path / "big.jsonl", lines * 20)
    out = tmp_path / "out"
    args = [str(BIN / "wsi"), "assign", "--run", str(run_dir), "--input", str(src),
            "--output", str(out), "--method", "atoms", "--scheduler", "sync",
            "--set", "assign.partition_bytes=8192", "--quiet"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if out.exists() and len([p for p in out.iterdir() if p.name.startswith("part-")]) >= 3:
            os.killpg(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.005)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the batch ended before it could be killed"
    for p in out.iterdir():  # whatever is there is whole
        if p.name.startswith("part-") and p.name.endswith(".parquet"):
            pq.read_table(p)
    done = subprocess.run(args, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    fresh = tmp_path / "fresh.parquet"
    subprocess.run([*args[:7], str(fresh), *args[8:]], check=True, capture_output=True)
    resumed = pq.read_table(sorted(p for p in out.iterdir() if p.name.startswith("part-")))
    assert resumed.equals(pq.read_table(fresh)) and resumed.num_rows == 20 * len(lines)


def test_object_storage_and_a_dask_cluster_give_the_local_output(run, wsi, s3, cluster):
    run_dir, lines, tmp = run
    src = _write_jsonl(tmp / "s3.jsonl", lines)
    local = _assign(wsi, run_dir, src, tmp / "local.parquet")
    bucket = s3.bucket("assign")
    s3.fs.pipe_file(f"{bucket}/in/batch.jsonl", src.read_bytes())
    env = {**os.environ, **s3.env}
    for out in (f"s3://{bucket}/out.parquet", f"s3://{bucket}/outdir"):
        r = subprocess.run([str(BIN / "wsi"), "assign", "--run", str(run_dir), "--input",
                            f"s3://{bucket}/in/", "--output", out, "--quiet"],
                           env=env, capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        files = sorted(s3.fs.find(out.removeprefix("s3://"))) if "outdir" in out else \
            [out.removeprefix("s3://")]
        parts = [f for f in files if f.rsplit("/", 1)[-1].startswith(("part-", "out."))]
        got = pa.concat_tables(pq.read_table(s3.fs.open(f, "rb")) for f in parts)
        assert got.equals(local)
    assert not s3.fs.exists(f"{bucket}/out.parquet.parts")
    # the same batch on a scheduler with two worker processes
    dist = _assign(wsi, run_dir, src, tmp / "dist.parquet", "--scheduler", cluster.address,
                   "--set", "assign.partition_bytes=4096")
    assert dist.equals(local)


def test_bad_usage_is_one_line(run, wsi):
    run_dir, lines, tmp = run
    src = _write_jsonl(tmp / "u.jsonl", lines[:3])
    code, _o, err = wsi("assign", "--run", run_dir, "--input", src, "--output",
                        tmp / "u.parquet", "--set", "atoms.sparsity=3")
    assert code == 2 and "only senses.* and assign.*" in err
    code, _o, err = wsi("assign", "--run", run_dir, "--input", tmp / "nothing*.jsonl",
                        "--output", tmp / "u.parquet")
    assert code == 3 and "no input files" in err


def test_the_sample_is_each_words_smallest_hash_priorities(run, tmp_path):
    """The cluster method's sample, read as columns, against a brute force over the
    raw lines: per word (its "word" field lowercased, else the marked text), the
    ``cap`` lines of smallest splitmix64(byte offset) priority; invalid lines and
    lines without a target in no sample."""
    from pipeline.assigner import load_model
    from pipeline.batches import Columns, plan, read_lines
    from tasks.assign import merge_samples, sample_priority
    run_dir, lines, _tmp = run
    rng = np.random.default_rng(0)
    raw = []
    for i, x in enumerate(lines[:400]):
        x = dict(x)
        if i % 3 == 0:  # the word given, in capitals: grouped as the vocabulary spells it
            x["word"] = x["id"].split("-")[0].upper()
        if i % 11 == 0:
            x["context"] = x["context"].replace("<<", "").replace(">>", "")  # no target
        raw.append(json.dumps(x))
    rng.shuffle(raw)
    src = tmp_path / "b.jsonl"
    src.write_text("\n".join(raw) + "\n")
    model = load_model(str(run_dir), "cluster", ("assign.sample_cap=37",))
    truth, at = {}, 0
    for line in raw:
        x = json.loads(line)
        word = x.get("word", "").lower() or (
            x["context"].split("<<")[1].split(">>")[0] if "<<" in x["context"] else None)
        if word:
            truth.setdefault(word, []).append(at)
        at += len(line) + 1
    for w, orders in truth.items():
        orders = np.array(orders)
        truth[w] = sorted(orders[np.lexsort((orders, sample_priority(orders, 0)))][:37])
    parts, _sig = plan(str(src), partition_bytes=4096, storage_options={})
    assert len(parts) > 3
    def columns(p, first):
        cols = read_lines(p, first)
        assert isinstance(cols, Columns)  # every line here is a JSON object
        return cols

    def items(p, first):
        return columns(p, first).items()

    def large(p, first):  # text columns as polars writes them (large_string)
        cols = columns(p, first)
        cols.words = cols.words.cast(pa.large_string())
        cols.contexts = cols.contexts.cast(pa.large_string())
        return cols

    for read in (columns, items, large):  # columns and items agree
        got = merge_samples(37, *[model.candidates(read(p, 1)) for p in parts])
        assert {w: sorted(o.tolist()) for w, (_p, o, _x) in got.items()} == truth


def test_gc_paused_nests_and_restores():
    import gc
    import threading

    from pipeline.runner import gc_paused
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
        done = threading.Event()

        def other():
            with gc_paused():
                done.wait(5)
        t = threading.Thread(target=other)
        t.start()
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert not gc.isenabled()  # the other thread is still inside
    done.set()
    t.join()
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()  # off before: stays off
    finally:
        gc.enable()


@pytest.mark.parametrize("method", ["cluster", "inventory", "atoms"])
def test_a_partition_encoded_at_once_equals_line_by_line(run, method):
    """encode (marked ASCII lines in one kernel pass, the rest line by line) gives every
    line the tokens, target, word, key and error that encode_lines gives it alone."""
    from pipeline.assigner import Item, load_model
    from pipeline.batches import _read_json_columns
    run_dir, lines, _tmp = run
    rng = np.random.default_rng(3)
    mixed = []
    for i, x in enumerate(lines[:400]):
        text = x["context"]
        kind = i % 9
        if kind == 1:
            text = text.replace("<<", "<< ").upper()  # spaces in the mark, upper case
        elif kind == 2:
            text = "café " + text  # not ASCII: line by line
        elif kind == 3:
            text = text.replace("<<", "").replace(">>", "")  # unmarked: the word's first
        elif kind == 4:
            text = "<<  >> " + text.replace("<<", "").replace(">>", "")  # an empty mark
        elif kind == 5:
            text = text.replace(">>", " w0x1>>")  # a two-word target
        elif kind == 6:
            text = None if i % 2 else "   "
        mixed.append({"id": x["id"], "context": text,
                      "word": x["id"].split("-")[0] if kind in (3, 4, 7) else None})
    rng.shuffle(mixed)
    data = "".join(json.dumps(x) + "\n" for x in mixed).encode()
    cols = _read_json_columns(data, 1, "", 0)
    items = cols.items()
    assert items[0] == Item(1, mixed[0]["id"], mixed[0]["word"], mixed[0]["context"], order=0)
    model = load_model(str(run_dir), method)
    ref = model.encode_lines(items)
    for enc in (model.encode(items), model.encode_columns(cols.contexts, cols.words, items)):
        assert enc.errors == ref.errors and enc.words == ref.words and enc.keys == ref.keys
        np.testing.assert_array_equal(enc.rows, ref.rows)
        for j in range(len(ref.rows)):
            np.testing.assert_array_equal(enc.ids[enc.starts[j]:enc.ends[j]],
                                          ref.ids[ref.starts[j]:ref.ends[j]])
            assert enc.positions[j] - enc.starts[j] == ref.positions[j] - ref.starts[j]
    assert sum(e is None for e in ref.errors) > 200 and any(e for e in ref.errors)


def test_row_scores_put_every_items_row_in_item_order():
    from pipeline.batches import RowScores
    rng = np.random.default_rng(0)
    n = 50
    perm = rng.permutation(n)
    want = {}
    s = RowScores(n)
    a, b, c = perm[:20], perm[20:35], perm[35:45]  # perm[45:] get no row
    block = rng.standard_normal((20, 3)).astype(np.float32)
    s.set(a, block)
    want.update({int(i): block[j] for j, i in enumerate(a)})
    lengths = rng.integers(0, 5, len(b))
    values = rng.standard_normal(int(lengths.sum())).astype(np.float32)
    s.set_ragged(b, lengths, values)
    ends = np.cumsum(lengths)
    want.update({int(i): values[ends[j] - lengths[j]:ends[j]] for j, i in enumerate(b)})
    s.set(c, np.zeros((10, 6)))
    want.update({int(i): np.zeros(6, np.float32) for i in c})
    keep = rng.random(n) > 0.2
    got_len, flat = s.flat(keep)
    at = 0
    for i in range(n):
        row = want.get(i, np.zeros(0, np.float32)) if keep[i] else np.zeros(0, np.float32)
        assert got_len[i] == len(row)
        np.testing.assert_array_equal(flat[at:at + len(row)], row)
        at += len(row)
    assert at == len(flat)
