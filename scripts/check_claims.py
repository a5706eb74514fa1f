"""Rebuild the chapters as other machines would, and check that every claim they assert still holds.

Another CPU, BLAS kernel, thread count or GPU trains a different network, just as another seed does.
This script runs each chapter that asserts claims (``cnnlab.course.claims.claim``) top to bottom on
a fresh kernel, once per setting: every seed offset (``CNNLAB_SEED_OFFSET``) with every thread
count (``OMP_NUM_THREADS``), plus ``CNNLAB_DEVICE=cuda`` when a GPU is present. It prints one row
per claim and one column per setting: "holds" or "FAILS", with what was measured.

It takes about an hour on two cores, so it is not part of CI; run it before calling a chapter's
experiment done:

    .venv/bin/python scripts/check_claims.py                      # offsets 0 1000 7919, threads 1 and 2
    .venv/bin/python scripts/check_claims.py --chapters 09 10 --offsets 0 5 --threads 1

Exit status 0 when every claim holds in every setting and every chapter ran to the end.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"


def chapters_with_claims(selected=None):
    """The chapter notebooks whose code calls ``claim(``, optionally only those whose name starts with a prefix."""
    found = []
    for path in sorted(BOOK.glob("*.ipynb")):
        if selected and not any(path.name.startswith(prefix) for prefix in selected):
            continue
        notebook = json.loads(path.read_text(encoding="utf-8"))
        if any("claim(" in "".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "code"):
            found.append(path)
    return found


def settings(offsets, threads, cuda):
    """Every (offset, threads, device) to run: each offset with each thread count, on the CPU, and on cuda if asked."""
    rows = [(offset, count, "cpu") for offset in offsets for count in threads]
    if cuda:
        rows += [(offset, max(threads), "cuda") for offset in offsets]
    return rows


def label(setting):
    offset, count, device = setting
    return f"offset {offset}, {count} thread{'s' if count > 1 else ''}" + (", cuda" if device == "cuda" else "")


def run_one(notebook, setting, log, timeout):
    """Execute one chapter in a child process with the setting's environment; return (status, seconds)."""
    offset, count, device = setting
    env = dict(os.environ, CNNLAB_SEED_OFFSET=str(offset), OMP_NUM_THREADS=str(count), MKL_NUM_THREADS=str(count),
               CNNLAB_DEVICE=device, CNNLAB_CLAIMS_LOG=str(log), CNNLAB_CLAIMS_KEEP_GOING="1",
               CNNLAB_STATIC_WIDGETS="1", MPLBACKEND="Agg", PYTHONHASHSEED="0")
    start = time.perf_counter()
    result = subprocess.run([sys.executable, __file__, "--execute", str(notebook), "--timeout", str(timeout)],
                            env=env, capture_output=True, text=True)
    status = "ran" if result.returncode == 0 else "error: " + (result.stderr.strip().splitlines() or ["?"])[-1][:200]
    return status, time.perf_counter() - start


def execute(notebook, timeout):
    """Run ``notebook`` top to bottom on a fresh kernel in ``book/`` (the child process's whole job)."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(notebook, as_version=4)
    NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(BOOK)}}).execute()


def read_claims(log):
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines() if line.strip()]


def table(results, columns):
    """Markdown: one row per (chapter, claim), one column per setting."""
    rows = {}
    for (chapter, setting), (status, _, claims) in results.items():
        for entry in claims:
            cells = rows.setdefault((chapter, entry["claim"]), {})
            earlier = cells.get(setting)
            if earlier is not None and not earlier["holds"]:
                continue  # a claim checked more than once (say per network) fails if any check fails
            cells[setting] = entry
    lines = ["| chapter | claim | " + " | ".join(label(s) for s in columns) + " |",
             "|---|---|" + "---|" * len(columns)]
    for (chapter, name), cells in sorted(rows.items()):
        shown = []
        for setting in columns:
            entry = cells.get(setting)
            if entry is None:
                shown.append("not reached")
            else:
                shown.append(("holds" if entry["holds"] else "**FAILS**") + (f": {entry['measured']}" if entry["measured"] else ""))
        lines.append(f"| {chapter} | {name} | " + " | ".join(shown) + " |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chapters", nargs="*", help="chapter name prefixes (default: every chapter with a claim)")
    parser.add_argument("--offsets", nargs="+", type=int, default=[0, 1000, 7919])
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--cuda", choices=["auto", "yes", "no"], default="auto",
                        help="also run on CUDA (auto: when torch sees a GPU)")
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 1,
                        help="cores to fill: settings with fewer threads run side by side")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per cell")
    parser.add_argument("--out", type=Path, help="also write the results as JSON here")
    parser.add_argument("--execute", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.execute:
        execute(args.execute, args.timeout)
        return 0

    if args.cuda == "auto":
        import torch

        cuda = torch.cuda.is_available()
    else:
        cuda = args.cuda == "yes"
    notebooks = chapters_with_claims(args.chapters)
    if not notebooks:
        parser.error("no chapter with claims matches --chapters")
    columns = settings(args.offsets, args.threads, cuda)
    jobs = [(notebook, setting) for setting in columns for notebook in notebooks]
    print(f"[claims] {len(notebooks)} chapters x {len(columns)} settings = {len(jobs)} runs: "
          f"{', '.join(p.stem for p in notebooks)}", flush=True)
    scratch = Path(tempfile.mkdtemp(prefix="cnnlab-claims-"))
    results = {}
    start = time.perf_counter()
    # Runs with the same thread count go side by side, as many as fill the cores (never oversubscribed).
    for count in sorted({setting[1] for setting in columns}):
        batch = [job for job in jobs if job[1][1] == count]
        workers = max(1, args.cores // count)
        with concurrent.futures.ThreadPoolExecutor(workers) as pool:
            futures = {}
            for notebook, setting in batch:
                log = scratch / f"{notebook.stem}-{setting[0]}-{setting[1]}-{setting[2]}.jsonl"
                futures[pool.submit(run_one, notebook, setting, log, args.timeout)] = (notebook, setting, log)
            for future in concurrent.futures.as_completed(futures):
                notebook, setting, log = futures[future]
                status, seconds = future.result()
                claims = read_claims(log)
                failed = sum(not c["holds"] for c in claims)
                results[(notebook.stem, setting)] = (status, seconds, claims)
                print(f"[claims] {notebook.stem} | {label(setting)}: {status}, {len(claims)} claims, {failed} fail, "
                      f"{seconds:.0f} s (elapsed {time.perf_counter() - start:.0f} s)", flush=True)
    print()
    print(table(results, columns))
    errors = {key: status for key, (status, _, _) in results.items() if status != "ran"}
    for (chapter, setting), status in sorted(errors.items()):
        print(f"\n{chapter} under {label(setting)} did not run to the end: {status}")
    failures = sum(not c["holds"] for _, _, claims in results.values() for c in claims)
    print(f"\n[claims] {sum(len(c) for _, _, c in results.values())} claim checks, {failures} failed, "
          f"{len(errors)} chapter runs with errors, {time.perf_counter() - start:.0f} s")
    if args.out:
        args.out.write_text(json.dumps([{"chapter": chapter, "setting": label(setting), "status": status,
                                         "seconds": seconds, "claims": claims}
                                        for (chapter, setting), (status, seconds, claims) in results.items()], indent=1))
    return 0 if not failures and not errors else 1


if __name__ == "__main__":
    sys.exit(main())
