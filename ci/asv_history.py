#!/usr/bin/env python3
"""lowbit's benchmark history on asv (airspeed velocity): ci/README.md, "History".

  python ci/asv_history.py machine                     # this machine's asv name and info
  python ci/asv_history.py record [--allow-dirty] [--bench REGEX]   # `make history`
  python ci/asv_history.py record --pinned COMMIT_JSON --results-dir DIR [--emulated]
                                                       # in the image: lowbit-docker history
  python ci/asv_history.py dashboard [--merge DIR ...] # `make dashboard [MERGE="dir ..."]`
  python ci/asv_history.py compare OLD NEW [--machine NAME]         # asv compare

Run it with the interpreter that has lowbit and asv installed (.venv/bin/python). asv keeps
results keyed by machine and commit under .asv/results/<machine>/; merging other machines'
folders (CI artifacts, a board's `lowbit-docker history` output) is a copy into that tree.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONF = REPO / "asv.conf.json"
ENV_NAME = "existing-venv"  # asv environment name of every recording (stable_env)


def _atomic():
    """lowbit's one atomic writer (src/lowbit/bench/atomic.py). `make dashboard` runs where lowbit
    is not built (a merge-only machine: importing the package needs its C++ extension), so
    there the module, standard library only, is loaded from this checkout's file."""
    try:
        from lowbit.bench import atomic
    except ImportError:
        import importlib.util

        spec = importlib.util.spec_from_file_location(
            "lowbit_atomic", REPO / "src" / "lowbit" / "bench" / "atomic.py")
        atomic = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(atomic)
    return atomic


class HistoryError(RuntimeError):
    """Something the user has to fix (a dirty tree, no results, asv failed)."""


# ---------------------------------------------------------------- machines


def machine_class(fp: dict) -> str:
    """The LOWBIT_MAX_TIER class a process runs in: the best class of the fingerprint's class
    table (lowbit.bench.classes: the cap, or the CPU's own class when the cap is above it);
    without a table, the cap when one is set, else the best tier any format runs here."""
    table = fp.get("classes")
    if isinstance(table, dict) and table.get("top"):
        return str(table["top"])
    if fp.get("max_tier"):
        return str(fp["max_tier"])
    tiers = fp.get("tiers") or {}
    firsts = {ts[0] for ts in tiers.values() if isinstance(ts, list) and ts}
    try:
        import lowbit

        order = lowbit.all_tiers()
    except ImportError:
        order = sorted(firsts)
    return next((t for t in order if t in firsts), "unknown")


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-")


def machine_name(fp: dict | None = None) -> str:
    """asv machine name: <arch>-<cpu model>-<id>-<class>, or $LOWBIT_ASV_MACHINE.

    id hashes what tells two CPUs of one model name apart (ISA flags, lowbit's detected
    features, core count); class is the LOWBIT_MAX_TIER class, so each capped class of one
    CPU is a machine of its own. Hostnames are not used: CI runners get a new one every run.
    """
    if os.environ.get("LOWBIT_ASV_MACHINE"):
        return _slug(os.environ["LOWBIT_ASV_MACHINE"])[:80]
    fp = fp if fp is not None else fingerprint()
    ident = json.dumps([fp.get("cpu_model"), sorted(fp.get("isa_flags") or []),
                        sorted(fp.get("lowbit_features") or []), fp.get("cores")])
    digest = hashlib.sha1(ident.encode()).hexdigest()[:6]
    model = _slug(fp.get("cpu_model") or "cpu")[:40]
    return f"{_slug(fp.get('arch') or 'arch')}-{model}-{digest}-{_slug(machine_class(fp))}"


def fingerprint() -> dict:
    from lowbit.bench.fingerprint import fingerprint as bench_fingerprint

    return bench_fingerprint()


def _ram() -> str:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return line.split(":")[1].strip()
    except OSError:
        pass
    return ""


def machine_info(fp: dict | None = None) -> dict:
    """The fields of asv's machine.json, from the fingerprint."""
    fp = fp if fp is not None else fingerprint()
    return {"machine": machine_name(fp), "arch": str(fp.get("arch") or ""),
            "cpu": f"{fp.get('cpu_model') or ''} (class {machine_class(fp)})",
            "num_cpu": str(fp.get("cores") or ""), "os": str(fp.get("os") or ""),
            "ram": _ram()}


# ---------------------------------------------------------------- asv and git


def asv(*args, conf: Path = CONF, check: bool = True, capture: bool = False, env=None):
    cmd = [sys.executable, "-m", "asv", *args, "--config", str(conf)]
    proc = subprocess.run(cmd, cwd=conf.parent, env=env, text=True,
                          capture_output=capture)
    if check and proc.returncode != 0:
        out = (proc.stdout or "") + (proc.stderr or "") if capture else ""
        raise HistoryError(f"`asv {' '.join(args)}` failed (exit {proc.returncode})\n{out}")
    return proc


def git(*args, cwd: Path = REPO) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise HistoryError(f"git {' '.join(args)}: {proc.stderr.strip()}")
    return proc.stdout.strip()


def head_commit(allow_dirty: bool = False, cwd: Path = REPO) -> str:
    """HEAD of the checkout; refuses a tree with modified tracked files, whose numbers would
    be filed under a commit that did not produce them."""
    head = git("rev-parse", "HEAD", cwd=cwd)
    dirty = git("status", "--porcelain", "--untracked-files=no", cwd=cwd)
    if dirty and not allow_dirty:
        raise HistoryError(
            f"the checkout has uncommitted changes to tracked files:\n{dirty}\n"
            "asv files results under a commit hash; commit (or stash) first, or pass "
            "--allow-dirty (make history ALLOW_DIRTY=1) to file them under HEAD anyway")
    return head


def load_conf(conf: Path = CONF) -> dict:
    from asv import util

    return util.load_json(str(conf), js_comments=True)


def conf_path(conf_doc: dict, key: str, conf: Path = CONF) -> Path:
    return (conf.parent / conf_doc[key]).resolve()


# ---------------------------------------------------------------- a commit without git

# The arm64 image has neither git nor .git (docker/history-image.sh): asv learns the commit
# of the image's files from a small JSON file, {"commit", "date_ms", "dirty"}, through this
# repository type. It knows that one commit and nothing else.
PINNED_DVCS = "lowbit-pinned"
EMULATED_SUFFIX = "-emulated"


def read_pinned(path: Path) -> dict:
    try:
        doc = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise HistoryError(f"{path}: unreadable commit file ({exc})") from None
    if not (isinstance(doc, dict) and re.fullmatch(r"[0-9a-f]{40}", str(doc.get("commit")))
            and isinstance(doc.get("date_ms"), int) and isinstance(doc.get("dirty"), bool)):
        raise HistoryError(f"{path}: not a commit file (want {{\"commit\": <40 hex digits>, "
                           f"\"date_ms\": <int>, \"dirty\": <bool>}}, got {doc!r})")
    return doc


try:
    from asv.repo import NoSuchNameError as _NoSuchName, Repo as _AsvRepo
except ImportError:  # a machine without asv: only the helpers above are used
    _AsvRepo = None

if _AsvRepo is not None:

    class PinnedRepo(_AsvRepo):
        """asv repository of the one commit named in a commit file (asv.conf.json "repo")."""

        dvcs = PINNED_DVCS
        _default_branch = "HEAD"

        def __init__(self, url, mirror_path):
            self.url, self.path = url, None
            self._pin = read_pinned(Path(url))

        @classmethod
        def url_match(cls, url):
            return False

        def _commit(self, name):
            h = self._pin["commit"]
            if name in (None, "HEAD", "master", "main") or (len(str(name)) >= 4
                                                              and h.startswith(str(name))):
                return h
            raise _NoSuchName(name)

        def pull(self):
            pass

        def checkout(self, path, commit_hash):
            self._commit(commit_hash)

        def get_hash_from_name(self, name):
            return self._commit(name)

        def get_date(self, hash):
            self._commit(hash)
            return self._pin["date_ms"]

        def get_date_from_name(self, name):
            return self.get_date(self._commit(name))

        def get_decorated_hash(self, commit_hash, hash_length=8):
            return commit_hash[:hash_length]

        def get_name_from_hash(self, commit):
            return None

        def get_tags(self):
            return {}

        def get_branch_name(self, branch=None):
            return "HEAD"

        def get_branch_commits(self, branch):
            return [self._commit(branch)]

        def get_new_branch_commits(self, branches, existing):
            new = [self._pin["commit"]]
            return [h for h in new if h not in set(existing)]

        def get_hashes_from_range(self, range_spec):
            return [self._pin["commit"]]

        def get_hash_from_parent(self, name):
            raise _NoSuchName(f"{name}^ (a pinned commit has no history)")


def pinned_conf(commit_file: Path, results_dir: Path, work: Path, conf: Path = CONF) -> Path:
    """An asv.conf.json in `work` for recording the pinned commit into `results_dir`."""
    doc = load_conf(conf)
    doc.update(repo=str(Path(commit_file).resolve()), dvcs=PINNED_DVCS,
               plugins=[".asv_history"], results_dir=str(Path(results_dir).resolve()),
               benchmark_dir=str(conf_path(doc, "benchmark_dir", conf)),
               env_dir=str(work / "env"), html_dir=str(work / "html"))
    work.mkdir(parents=True, exist_ok=True)
    out = work / "asv.conf.json"
    _atomic().write_json(out, doc, indent=1)
    return out


# ---------------------------------------------------------------- record


def record(allow_dirty: bool = False, bench: str | None = None, log=print,
           conf: Path = CONF, machine: str | None = None, env: dict | None = None,
           pinned: Path | None = None, results_dir: Path | None = None,
           emulated: bool = False) -> Path:
    """`make history`: run the suite in this environment, filed under HEAD and this machine
    (`machine` overrides the name; `env` is the benchmarks' environment).

    `pinned` (a commit file, see read_pinned) records that commit without git, into
    `results_dir`: `lowbit-docker history` in the image. `emulated` (a run under QEMU) puts
    EMULATED_SUFFIX on the machine name and says so in its cpu field: its timings are not
    that CPU's, and it never shares a graph with the real board."""
    if pinned is not None:
        pin = read_pinned(pinned)
        if pin["dirty"] and not allow_dirty:
            raise HistoryError(f"{pinned}: the image was built from a checkout with "
                               "uncommitted changes; rebuild it from a clean one, or pass "
                               "--allow-dirty to file the results under its HEAD anyway")
        commit = pin["commit"]
        work = Path(results_dir or ".").resolve().parent / ".asv-pinned"
        conf = pinned_conf(pinned, results_dir or REPO / ".asv" / "results", work, conf)
        env = dict(env if env is not None else os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            [str(REPO / "ci")] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
        # asv drops PYTHONPATH from the benchmarks' processes unless ASV_PYTHONPATH is set,
        # and the image's lowbit, peers and asv are on PYTHONPATH (no site-packages install).
        env.setdefault("ASV_PYTHONPATH", env["PYTHONPATH"])
    else:
        commit = head_commit(allow_dirty, cwd=conf.parent)
    fp = fingerprint()
    info = machine_info(fp)
    if machine:
        info["machine"] = machine
    if emulated:
        if not info["machine"].endswith(EMULATED_SUFFIX):
            info["machine"] = info["machine"][:80 - len(EMULATED_SUFFIX)] + EMULATED_SUFFIX
        info["cpu"] += ", emulated by QEMU: timings are not this CPU's"
    name = info["machine"]
    log(f"history: machine {name} ({info['cpu']}, {info['num_cpu']} cores), commit "
        f"{commit[:10]}")
    asv("machine", "--yes", *[f"--{k}={v}" for k, v in info.items()], conf=conf, env=env)
    t0 = time.monotonic()
    args = ["run", "--python=same", f"--set-commit-hash={commit}", f"--machine={name}",
            "--show-stderr"]
    if bench:
        args.append(f"--bench={bench}")
    asv(*args, conf=conf, env=env)
    results = conf_path(load_conf(conf), "results_dir", conf) / name
    version = "{}.{}".format(*sys.version_info[:2])
    for path in results.glob(f"{commit[:8]}-existing-py_*.json"):
        doc, fname = stable_env(json.loads(path.read_text()), python=version)
        _atomic().write_json(results / fname, doc, sort_keys=True)
        path.unlink()
    # asv's machine.json keeps only the fields that differ from its own guesses; write all of
    # them, so a merged tree says what each machine is.
    mj = results / "machine.json"
    doc = json.loads(mj.read_text())
    _atomic().write_json(mj, {**doc, **info}, indent=4, sort_keys=True)
    log(f"history: recorded {commit[:10]} on {name} in {time.monotonic() - t0:.0f} s "
        f"-> {results}")
    return results


# ---------------------------------------------------------------- merge, validate, publish


def _load_results(path: Path, machine: str):
    """asv's own loader; any failure becomes one clear line."""
    from asv import util
    from asv.results import Results

    try:
        res = Results.load(str(path), machine_name=machine)
        if not res.commit_hash:
            raise ValueError("no commit hash")
        return res
    except (util.UserError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise HistoryError(f"{path}: unreadable asv results file ({type(exc).__name__}: "
                           f"{exc})") from None


def _machine_of(machine_json: Path) -> str:
    from asv import util

    try:
        doc = util.load_json(str(machine_json))
    except (util.UserError, ValueError) as exc:
        raise HistoryError(f"{machine_json}: unreadable machine file ({exc})") from None
    name = doc.get("machine") if isinstance(doc, dict) else None
    if not isinstance(name, str) or not name:
        raise HistoryError(f"{machine_json}: no machine name in it")
    return name


def scan(root: Path) -> tuple[list[tuple[Path, str]], list[str]]:
    """Every results file under `root` (any depth: CI artifacts nest them) with its machine,
    and a message for each file that cannot be read (it is left where it is)."""
    good, errors = [], []
    for mj in sorted(Path(root).rglob("machine.json")):
        try:
            machine = _machine_of(mj)
        except HistoryError as exc:
            errors.append(str(exc))
            continue
        for p in sorted(mj.parent.glob("*.json")):
            if p.name in ("machine.json", "benchmarks.json"):
                continue
            try:
                _load_results(p, machine)
                good.append((p, machine))
            except HistoryError as exc:
                errors.append(str(exc))
    return good, errors


def _read(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _started(doc) -> float:
    """When the newest benchmark of a results document started (-1: unreadable)."""
    try:
        col = doc["result_columns"].index("started_at")
        return max((r[col] for r in doc["results"].values() if len(r) > col and r[col]),
                   default=0)
    except (TypeError, KeyError, ValueError, AttributeError):
        return -1


def stable_env(doc: dict, python: str | None = None) -> tuple[dict, str]:
    """(document, file name) with one environment name for every checkout.

    asv names an "existing" environment after its interpreter's path (`existing-py_<path>`,
    and the path is its "python" parameter), which differs between clones, CI runners and
    one machine's worktrees: one machine's commits would neither compare nor share a graph.
    What is measured is the installed package, whose commit the results carry, so the path
    gives way to ENV_NAME and `python` (the interpreter's version, when recording)."""
    if str(doc.get("env_name", "")).startswith("existing-py_"):
        doc = dict(doc, env_name=ENV_NAME)
    if python and "/" in str(doc.get("python", "")):
        doc = dict(doc, python=python, params=dict(doc.get("params") or {}, python=python))
    return doc, f"{doc['commit_hash'][:8]}-{doc['env_name']}.json"


def merge(sources, results_dir: Path, log=print) -> tuple[int, list[str]]:
    """Copy every readable results file found under `sources` into results_dir/<machine>/.
    A file already there with other contents (the same machine, commit and environment) is
    replaced only by a newer run, and either way it is said. Returns (files copied, errors)."""
    copied, errors = 0, []
    results_dir = Path(results_dir).resolve()
    for src in sources:
        src = Path(src)
        if not src.is_dir():
            errors.append(f"{src}: not a directory")
            continue
        good, bad = scan(src)
        errors += bad
        if not good and not bad:
            errors.append(f"{src}: no asv results (no */machine.json) found")
        for path, machine in good:
            if results_dir in path.resolve().parents:
                continue
            doc, name = stable_env(json.loads(path.read_text()))
            dest = results_dir / machine / name
            dest.parent.mkdir(parents=True, exist_ok=True)
            if not (dest.parent / "machine.json").exists():
                shutil.copy2(path.parent / "machine.json", dest.parent / "machine.json")
            if dest.exists():
                have = _read(dest)
                if have == doc:
                    continue
                if _started(doc) <= _started(have):
                    log(f"merge: kept {dest} (newer than {path})")
                    continue
                log(f"merge: {dest} replaced by the newer run in {path}")
            _atomic().write_json(dest, doc, sort_keys=True)
            copied += 1
        bench = next(iter(sorted(src.rglob("benchmarks.json"))), None)
        if bench is not None and not (results_dir / "benchmarks.json").exists():
            shutil.copy2(bench, results_dir / "benchmarks.json")
    return copied, errors


def dashboard(merge_dirs=(), log=print, conf: Path = CONF) -> Path:
    """`make dashboard`: merge, then `asv publish` the readable results into html_dir.

    Unreadable files are reported and left out; everything else still publishes. asv reads a
    staged copy of the results tree, so nothing in .asv/results is moved or rewritten."""
    doc = load_conf(conf)
    results_dir = conf_path(doc, "results_dir", conf)
    html_dir = conf_path(doc, "html_dir", conf)
    errors = []
    if merge_dirs:
        n, errors = merge(merge_dirs, results_dir, log)
        log(f"dashboard: merged {n} results file(s) from {' '.join(map(str, merge_dirs))}")
    good, bad = scan(results_dir) if results_dir.exists() else ([], [])
    errors += bad
    for e in errors:
        log(f"dashboard: error: {e}", file=sys.stderr)
    if not good:
        raise HistoryError(f"no readable asv results under {results_dir}: run `make history` "
                           "first, or `make dashboard MERGE=\"dir ...\"`")
    stage = results_dir.parent / "publish" / "results"
    shutil.rmtree(stage, ignore_errors=True)
    for path, machine in good:
        (stage / machine).mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, stage / machine / path.name)
        shutil.copy2(path.parent / "machine.json", stage / machine / "machine.json")
    bench = results_dir / "benchmarks.json"
    if bench.exists():
        shutil.copy2(bench, stage / "benchmarks.json")
    staged = dict(doc, results_dir=str(stage), html_dir=str(html_dir),
                  **{k: str(conf_path(doc, k, conf)) for k in ("repo", "env_dir",
                                                             "benchmark_dir")})
    staged_conf = stage.parent / "asv.conf.json"
    _atomic().write_json(staged_conf, staged, indent=1)
    if not bench.exists():  # only merged results, and none brought a benchmarks.json
        asv("run", "--python=same", "--bench=just-discover", conf=staged_conf)
    machines = sorted({m for _, m in good})
    asv("publish", conf=staged_conf)
    log(f"dashboard: {len(good)} results file(s) of {len(machines)} machine(s) "
        f"({', '.join(machines)}) -> {html_dir}")
    log(f"dashboard: open it with `{Path(sys.executable).parent / 'asv'} preview` "
        f"(http://127.0.0.1:8080) or `python3 -m http.server -d {html_dir}`"
        " (browsers refuse its JSON over file://)")
    if errors:
        log(f"dashboard: {len(errors)} file(s) could not be read and were left out "
            "(listed above)", file=sys.stderr)
    return html_dir


def compare(old: str, new: str, machine: str | None = None, factor: float = 1.05,
            conf: Path = CONF, only_changed: bool = False) -> str:
    """`asv compare OLD NEW` on one machine (default: this one); returns asv's table.

    A change by more than `factor` counts (asv's default is 1.1, which lets an exact 10%
    slowdown pass; 1.05 is also the gate's callgrind tolerance)."""
    machine = machine or machine_name()
    proc = asv("compare", f"--machine={machine}", f"--factor={factor}", "--split",
               *(["--only-changed"] if only_changed else []),
               git("rev-parse", old, cwd=conf.parent), git("rev-parse", new, cwd=conf.parent),
               conf=conf, capture=True)
    return proc.stdout


def has_results(machine: str, commit: str, conf: Path = CONF) -> bool:
    """Whether results of `commit` (a full hash) on `machine` are in the results tree."""
    root = conf_path(load_conf(conf), "results_dir", conf) / machine
    return bool(commit) and any(commit.startswith(p.name.split("-")[0])
                                for p in root.glob("*-*.json"))


def compare_command(old: str, new: str, machine: str) -> str:
    return f".venv/bin/python ci/asv_history.py compare {old} {new} --machine {machine}"


def _log(msg, file=None):
    print(msg, file=file or sys.stdout, flush=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("machine", help="print this machine's asv name and machine.json fields")
    p = sub.add_parser("record", help="record HEAD on this machine (make history)")
    p.add_argument("--allow-dirty", action="store_true",
                   help="record even with uncommitted changes (filed under HEAD)")
    p.add_argument("--bench", help="only benchmarks matching this regex")
    p.add_argument("--pinned", type=Path, metavar="COMMIT_JSON",
                   help="record the commit of this file, without git (the arm64 image)")
    p.add_argument("--results-dir", type=Path, help="asv results folder (with --pinned)")
    p.add_argument("--emulated", action="store_true",
                   help="a run under QEMU: tag the machine name and cpu as emulated")
    p = sub.add_parser("dashboard", help="merge and publish the HTML dashboard")
    p.add_argument("--merge", nargs="*", default=[], help="results folders of other machines")
    p = sub.add_parser("compare", help="asv compare between two commits on one machine")
    p.add_argument("old")
    p.add_argument("new")
    p.add_argument("--machine", help="asv machine name (default: this machine's)")
    p.add_argument("--factor", type=float, default=1.05, help="ratio counted as a change")
    p.add_argument("--only-changed", action="store_true", help="only what changed")
    args = ap.parse_args(argv)
    try:
        if args.cmd == "machine":
            print(json.dumps(machine_info(), indent=1))
        elif args.cmd == "record":
            record(args.allow_dirty, args.bench, log=_log, pinned=args.pinned,
                   results_dir=args.results_dir, emulated=args.emulated)
        elif args.cmd == "dashboard":
            dashboard(args.merge, log=_log)
        else:
            print(compare(args.old, args.new, args.machine, args.factor,
                          only_changed=args.only_changed))
    except HistoryError as exc:
        print(f"history: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
