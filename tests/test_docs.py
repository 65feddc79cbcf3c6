"""The documentation runs: tutorials, README examples, every documented command, the site build.

- Every ``python`` block of each page in ``docs/tutorials/`` runs, in page order, in one fresh
  subprocess in a temporary folder. A block followed directly by a ``text`` block must print
  that text (the page shows the real output; numbers within a tolerance, the words exactly),
  and every ``figures/<name>`` image on the page must be written by the code and committed
  beside the page. A page marked ``<!-- needs-data: <dataset> -->`` is skipped, naming the
  missing path, when the dataset is not on disk.
- The ``python`` blocks of README.md run the same way.
- Every line of a ``bash`` block in README.md and docs/ that calls ``neurofond`` (or
  ``.venv/bin/neurofond``) is parsed by :func:`neurofond.cli.build_parser` (a ``...`` token
  stands for elided arguments and is dropped); the cheap ones are executed (help, listings,
  dataset cards, and ``train``/``evaluate`` with tiny sizes appended). An inline-code
  ``neurofond <subcommand> ...`` names a subcommand and options that exist.
- Every ``python analyses|scripts|benchmarks/<script>.py ...`` call (bash blocks and inline
  code, env prefixes and ``.venv/bin/`` allowed) names an existing script whose
  ``build_parser()`` accepts the documented arguments (the script is imported, its ``main`` is
  not run); every other command that names a repository file (``bash setup.sh``, ``.ci/run``,
  ``pip -c constraints.txt``) names one that exists. Failures name the page and line.
- Every ``python`` block of the other docs/ pages compiles, and what it imports from
  ``neurofond`` (or a script), the attributes it takes of those names and the keyword arguments
  it passes them exist; blocks marked ``<!-- docs-run -->`` on the line before the fence run.
- ``mkdocs build --strict`` succeeds (warnings are errors).

After a deliberate change of a tutorial's output, refresh the pages' output blocks and figures:
``NEUROFOND_UPDATE_DOCS=1 .venv/bin/python -m pytest -q -p no:cacheprovider tests/test_docs.py``.
"""

from __future__ import annotations

import functools
import json
import math
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
TUTORIALS = sorted(p for p in (DOCS / "tutorials").glob("*.md") if p.name != "index.md")
UPDATE = os.environ.get("NEUROFOND_UPDATE_DOCS") == "1"
RTOL, ATOL = 0.05, 0.02  # printed numbers may move this much across machines and BLAS builds
SENTINEL = "<<<neurofond-docs-block {}>>>"

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,})(?P<info>[^`]*)$")
_NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?|\bnan\b|\binf\b",
                     re.IGNORECASE)
_FIGURE = re.compile(r"!\[[^\]]*\]\((figures/[^)\s]+)\)")
_NEEDS = re.compile(r"<!--\s*needs-data:\s*([\w-]+)\s*-->")


@dataclass
class Block:
    lang: str
    code: str
    start: int  # line index of the opening fence
    end: int  # line index of the closing fence


def fenced_blocks(text: str) -> list[Block]:
    """Fenced code blocks of a markdown text (indented fences, e.g. in lists, included)."""
    lines = text.split("\n")
    blocks, i = [], 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, fence = m["indent"], m["fence"]
        j = i + 1
        while j < len(lines) and lines[j].strip() != fence:
            j += 1
        if j == len(lines):
            raise AssertionError(f"unclosed code fence at line {i + 1}")
        body = [ln[len(indent):] if ln.startswith(indent) else ln.lstrip()
                for ln in lines[i + 1:j]]
        lang = m["info"].strip().split()[0] if m["info"].strip() else ""
        blocks.append(Block(lang, "\n".join(body) + "\n", i, j))
        i = j + 1
    return blocks


def _pairs(text: str) -> list[tuple[Block, Block | None]]:
    """Each python block with the text block that directly follows it (blank lines only)."""
    blocks = fenced_blocks(text)
    lines = text.split("\n")
    out = []
    for k, b in enumerate(blocks):
        if b.lang != "python":
            continue
        nxt = blocks[k + 1] if k + 1 < len(blocks) else None
        if nxt is not None and (nxt.lang != "text"
                                or any(ln.strip() for ln in lines[b.end + 1:nxt.start])):
            nxt = None
        out.append((b, nxt))
    return out


_RUNNER = """
import json, sys
blocks = json.load(open(sys.argv[1]))
namespace = {"__name__": "__main__"}
for i, code in enumerate(blocks):
    print(SENTINEL.format(i), flush=True)
    exec(compile(code, f"<{sys.argv[2]}, python block {i + 1}>", "exec"), namespace)
""".replace("SENTINEL", repr(SENTINEL))


def run_blocks(codes: list[str], where: Path, label: str, timeout: float = 300) -> list[str]:
    """Run code blocks in order in one subprocess in ``where``; return each block's stdout."""
    (where / "figures").mkdir(parents=True, exist_ok=True)
    (where / "_blocks.json").write_text(json.dumps(codes))
    (where / "_runner.py").write_text(_RUNNER)
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONHASHSEED="0",
               BS_INSTALL_DEPENDENCIES="no", AWS_EC2_METADATA_DISABLED="true",
               RESULTCACHING_HOME=str(where / "_result_caching"),
               BRAINSCORE_HOME=str(where / "_brainscore"))
    env.setdefault("OMP_NUM_THREADS", "1")
    proc = subprocess.run([sys.executable, "_runner.py", "_blocks.json", label], cwd=where,
                          env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{label} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
    parts = re.split(r"^" + re.escape(SENTINEL).replace(r"\{\}", r"\d+") + r"\n", proc.stdout,
                     flags=re.M)
    assert len(parts) == len(codes) + 1, f"{label}: block outputs could not be separated"
    return parts[1:]


def _skeleton(text: str) -> tuple[str, list[str]]:
    words = " ".join(text.split())
    return _NUMBER.sub("#", words), _NUMBER.findall(words)


def same_output(expected: str, actual: str, numbers: bool = True) -> str | None:
    """None when ``actual`` shows ``expected`` (words equal, numbers within RTOL/ATOL).

    ``numbers=False`` compares the words only (see :func:`check_page`).
    """
    (we, ne), (wa, na) = _skeleton(expected), _skeleton(actual)
    if we != wa or len(ne) != len(na):
        return f"text differs:\n--- page\n{expected}\n--- run\n{actual}"
    if not numbers:
        return None
    for a, b in zip(ne, na, strict=True):
        x, y = float(a), float(b)
        if math.isnan(x) and math.isnan(y):
            continue
        if not math.isclose(x, y, rel_tol=RTOL, abs_tol=ATOL):
            return f"number {a} on the page, {b} in the run:\n--- page\n{expected}\n--- run\n" \
                   f"{actual}"
    return None


def check_page(page: Path, tmp_path: Path, timeout: float = 300) -> None:
    """Run a page's python blocks; check (or, with NEUROFOND_UPDATE_DOCS=1, refresh) outputs."""
    text = page.read_text()
    for name in _NEEDS.findall(text):
        from neurofond.datasets import dataset_path

        try:
            dataset_path(name)
        except FileNotFoundError as exc:
            pytest.skip(f"{page.name} needs dataset {name!r}: {exc}")
    pairs = _pairs(text)
    assert pairs, f"{page} has no python block"
    # The pages' numbers were produced with the compiled spike sampler; its torch.poisson
    # fallback (no C compiler at install time) draws another random stream: words only then.
    from neurofond.fond.sampling import compiled_sampler_available

    numbers = compiled_sampler_available()
    outputs = run_blocks([b.code for b, _ in pairs], tmp_path, page.name, timeout)
    lines = text.split("\n")
    problems = []
    for k, ((_, shown), out) in enumerate(reversed(list(zip(pairs, outputs, strict=True)))):
        n = len(pairs) - k
        if shown is None:
            if out.strip():
                problems.append(f"python block {n} prints output but no ```text block follows it")
            continue
        if UPDATE:
            lines[shown.start + 1:shown.end] = out.rstrip("\n").split("\n")
            continue
        diff = same_output(shown.code.rstrip("\n"), out.rstrip("\n"), numbers)
        if diff:
            problems.append(f"python block {n}: {diff}")
    for rel in _FIGURE.findall(text):
        made = tmp_path / rel
        if not made.is_file():
            problems.append(f"{rel} is shown on the page but the code did not write it")
        elif UPDATE:
            (page.parent / rel).parent.mkdir(exist_ok=True)
            shutil.copyfile(made, page.parent / rel)
        if not (page.parent / rel).is_file():
            problems.append(f"{rel} is not committed beside {page.name}")
    if UPDATE:
        page.write_text("\n".join(lines))
    assert not problems, f"{page}:\n" + "\n".join(problems)


# ---------------------------------------------------------------- tutorials and README code
def test_tutorials_are_listed():
    assert [p.stem for p in TUTORIALS] == ["brainscore", "gratings", "recordings", "train"]
    index = (DOCS / "tutorials" / "index.md").read_text()
    nav = (REPO / "mkdocs.yml").read_text()
    for p in TUTORIALS:
        assert f"({p.name})" in index and f"tutorials/{p.name}" in nav, p.name


@pytest.mark.parametrize("page", TUTORIALS, ids=[p.stem for p in TUTORIALS])
def test_tutorial_runs_and_shows_its_outputs(page, tmp_path):
    check_page(page, tmp_path)


def test_readme_python_runs(tmp_path):
    readme = REPO / "README.md"
    codes = [b.code for b in fenced_blocks(readme.read_text()) if b.lang == "python"]
    assert codes, "README.md has no python example"
    run_blocks(codes, tmp_path, "README.md")


def test_output_comparison_catches_changes():
    assert same_output("r2 0.412, zeros 0.87", "r2 0.41, zeros 0.871") is None
    assert same_output("r2 0.412", "r2 0.30") is not None  # a number moved
    assert same_output("r2 0.412", "R2 0.412") is not None  # a word changed
    assert same_output("a 1 2", "a 1") is not None  # a value disappeared
    assert same_output("r2 0.412", "r2 0.30", numbers=False) is None
    assert same_output("information nan", "information nan") is None
    page = "x\n```python\nprint(1)\n```\n\n```text\n1\n```\n  ```bash\n  a\n  ```\n"
    blocks = fenced_blocks(page)
    assert [(b.lang, b.code) for b in blocks] == [("python", "print(1)\n"), ("text", "1\n"),
                                                 ("bash", "a\n")]


def test_check_page_fails_on_stale_output_and_missing_figures(tmp_path):
    page = tmp_path / "docs" / "page.md"
    page.parent.mkdir()
    good = ("```python\nx = 2\nprint('x', x)\n```\n\n```text\nx 2\n```\n\n"
            "```python\nopen('figures/a.png', 'wb').write(b'png')\n```\n\n"
            "![a](figures/a.png)\n")
    (page.parent / "figures").mkdir()
    (page.parent / "figures" / "a.png").write_bytes(b"png")
    page.write_text(good)
    check_page(page, tmp_path / "run1")  # passes
    page.write_text(good.replace("x 2", "x 3"))
    with pytest.raises(AssertionError, match="number 3 on the page, 2 in the run"):
        check_page(page, tmp_path / "run2")
    page.write_text(good.replace("\n\n```text\nx 2\n```", ""))
    with pytest.raises(AssertionError, match="prints output but no ```text block"):
        check_page(page, tmp_path / "run3")
    page.write_text(good.replace("figures/a.png', 'wb'", "b.png', 'wb'"))
    with pytest.raises(AssertionError, match="the code did not write it"):
        check_page(page, tmp_path / "run4")
    page.write_text(good.replace("x = 2", "x = 1 / 0"))
    with pytest.raises(AssertionError, match="ZeroDivisionError"):
        check_page(page, tmp_path / "run5")


# ---------------------------------------------------------------- documented commands
_CALL = re.compile(r"(?:^|&&|;)\s*((?:\.venv/bin/)?neurofond\s[^;&]*|(?:\.venv/bin/)?neurofond$)")


def documented_commands() -> list[tuple[Path, list[str]]]:
    """(page, argv) of every ``neurofond`` call in the bash blocks of README.md and docs/."""
    pages = [REPO / "README.md", *sorted(DOCS.rglob("*.md"))]
    out = []
    for page in pages:
        for block in fenced_blocks(page.read_text()):
            if block.lang not in ("bash", "sh", "console"):
                continue
            for line in block.code.replace("\\\n", " ").split("\n"):
                for call in _CALL.findall(line):
                    words = shlex.split(call, comments=True)
                    out.append((page, [w for w in words[1:] if w != "..."]))
    return out


COMMANDS = documented_commands()


def test_every_documented_command_parses():
    from neurofond.cli import build_parser

    assert len(COMMANDS) >= 20, COMMANDS
    errors = []
    for page, argv in COMMANDS:
        parser = build_parser()
        try:
            parser.parse_args(argv)
        except SystemExit as exc:
            if exc.code not in (0, None):  # --help exits 0
                errors.append(f"{page.relative_to(REPO)}: neurofond {shlex.join(argv)}")
    assert not errors, "documented commands the CLI rejects:\n" + "\n".join(errors)


_TINY = {"train": ["--max-steps", "2", "--n-train", "300", "--n-validation", "100",
                   "--n-latents", "16", "--eval-every", "1", "--checkpoint-every", "1",
                   "--no-progress"],
         "evaluate": ["--n-patches", "40", "--steps", "5", "--batch-size", "40"]}

_CLI_RUNNER = """
import contextlib, io, json, os, sys
from neurofond.cli import main
results = []
for workdir, argv in json.load(open(sys.argv[1])):
    os.makedirs(workdir, exist_ok=True)
    os.chdir(workdir)
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        try:
            rc = main(argv)
        except SystemExit as exc:
            rc = exc.code if isinstance(exc.code, int) else 1
        except Exception as exc:  # reported, not hidden: the test fails on it
            rc, err = 1, io.StringIO(repr(exc))
    results.append([rc, err.getvalue()[-1500:]])
print(json.dumps(results))
"""


def cheap_commands() -> list[tuple[Path, list[str]]]:
    """The documented commands cheap enough to execute, tiny sizes appended, in page order.

    Executed: help, ``pretrained``, ``datasets list|info``, ``brainscore export``, ``train``
    on the bundled photos (not ``--config``, ``--resume`` or ``--device``) and ``evaluate`` of
    a shipped model or of a checkpoint a ``train`` line above it on the same page writes (not
    ``--images``).
    """
    from neurofond.cli import build_parser
    from neurofond.pretrained import list_pretrained

    shipped = {r["name"] for r in list_pretrained()}
    out, written, seen = [], set(), set()
    for page, argv in COMMANDS:
        cmd = argv[0] if argv else ""
        data = argv[argv.index("--data") + 1] if "--data" in argv[:-1] else "bundled"
        if "-h" in argv or "--help" in argv or cmd == "pretrained" or argv[:2] in (
                ["datasets", "list"], ["datasets", "info"], ["brainscore", "export"]):
            run = argv
        elif cmd == "train" and data == "bundled" and not {"--config", "--resume",
                                                          "--device"} & set(argv):
            run = argv + _TINY["train"]
            args = build_parser().parse_args(run)
            written.add((page, str(Path(args.out) / f"{args.name}.safetensors")))
        elif cmd == "evaluate" and len(argv) > 1 and "--images" not in argv and (
                argv[1] in shipped or (page, argv[1]) in written):
            run = argv + _TINY["evaluate"]
        else:
            continue
        # a train and the evaluate of its output run on each page (in that page's folder)
        key = (page if cmd in ("train", "evaluate") else None, tuple(run))
        if key not in seen:
            seen.add(key)
            out.append((page, run))
    return out


def test_cheap_documented_commands_run(tmp_path):
    """All in one process (one torch import), per page in page order and in one folder."""
    commands = cheap_commands()
    assert len(commands) >= 10, commands
    pages = list(dict.fromkeys(p for p, _ in commands))
    jobs = [[str(tmp_path / f"{pages.index(p)}-{p.stem}"), argv] for p, argv in commands]
    (tmp_path / "jobs.json").write_text(json.dumps(jobs))
    (tmp_path / "cli_runner.py").write_text(_CLI_RUNNER)
    proc = subprocess.run([sys.executable, "cli_runner.py", "jobs.json"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    failures = [f"{page.relative_to(REPO)}: neurofond {shlex.join(argv)}\n{err}"
                for (page, argv), (rc, err) in zip(commands, results, strict=True) if rc != 0]
    assert not failures, "\n\n".join(failures)


# ---------------------------------------------------------------- scripts, files and doc code
SCRIPT_DIRS = ("analyses", "scripts", "benchmarks")
_ASSIGN = re.compile(r"^[A-Za-z_]\w*=")
_PYTHON = re.compile(r"^(?:\S*/)?python(?:3(?:\.\d+)?)?$")
_OPERATORS = {"&&", "||", ";", "|", "&", "(", ")", ";;"}
_INLINE = re.compile(r"(?<!`)`([^`]+)`(?!`)")
_RUN = re.compile(r"<!--\s*docs-run(?:\s+needs-data:\s*([\w-]+))?\s*-->")


def _split_commands(text: str) -> list[list[str]]:
    """The simple commands of a shell line (``&&``, ``;``, ``|`` split; comments and
    redirections dropped); a line shlex cannot split gives no command."""
    lexer = shlex.shlex(text, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    try:
        tokens = list(lexer)
    except ValueError:
        return []
    commands, current, skip = [], [], False
    for tok in tokens:
        if tok in _OPERATORS:
            commands.append(current)
            current = []
        elif skip:
            skip = False
        elif tok and tok[0] in "<>" or tok in ("2>", "2>&1"):
            skip = tok in ("<", ">", ">>", "2>")
        else:
            current.append(tok)
    commands.append(current)
    return [c for c in commands if c]


def _without_fences(text: str) -> str:
    """The page with the lines of its fenced blocks blanked (line numbers kept)."""
    lines = text.split("\n")
    for b in fenced_blocks(text):
        lines[b.start:b.end + 1] = [""] * (b.end + 1 - b.start)
    return "\n".join(lines)


def shell_commands(page: Path) -> list[tuple[int, str, list[str]]]:
    """(line, source, argv) of every command in the bash blocks and inline code of a page.

    Continued lines (``\\``) are joined; inline code counts when it starts a command
    (``python X.py``, ``bash X``, a path such as ``.ci/run``; env assignments allowed first).
    """
    text = page.read_text()
    out = []
    for block in fenced_blocks(text):
        if block.lang not in ("bash", "sh", "console", "shell"):
            continue
        joined, first = "", None
        for k, line in enumerate(block.code.split("\n")):
            first = block.start + 2 + k if first is None else first
            if line.rstrip().endswith("\\"):
                joined += line.rstrip()[:-1] + " "
                continue
            for argv in _split_commands(joined + line):
                out.append((first, "bash", argv))
            joined, first = "", None
    prose = _without_fences(text)
    for m in _INLINE.finditer(prose):
        span = " ".join(m[1].split())
        if "\n\n" in m[1] or not span:
            continue
        line = prose.count("\n", 0, m.start()) + 1
        for argv in _split_commands(span):
            words = [w for w in argv if not _ASSIGN.match(w)]
            if words and (_PYTHON.match(words[0]) or words[0] in ("bash", "sh")
                          or "/" in words[0] and len(words) > 1):
                out.append((line, "inline", argv))
    return out


def _doc_pages() -> list[Path]:
    return [REPO / "README.md", *sorted(DOCS.rglob("*.md"))]


SHELL = [(page, *cmd) for page in _doc_pages() for cmd in shell_commands(page)]


def _repo_path(word: str) -> Path | None:
    """The repository file a command word names (None: not a path into this repository)."""
    if word.startswith(("/", "~", "$", "-", ".venv/")) or "/" not in word and not re.search(
            r"\.(py|sh|txt|toml)$", word):
        return None
    path = Path(word)
    top = path.parts[0] if path.parts[0] != "." else (path.parts[1:] or ("",))[0]
    return REPO / path if top in _tracked_tops() else None


@functools.cache
def _tracked_tops() -> set[str]:
    """The top-level entries of the repository (git; outside a checkout: what is on disk)."""
    try:
        files = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True,
                               check=True).stdout.split("\n")
    except (OSError, subprocess.CalledProcessError):
        files = []
    tops = {f.split("/")[0] for f in files if f}
    return tops or {p.name for p in REPO.iterdir() if p.name not in ("results", "runs")}


def script_calls(shell=None) -> tuple[list[tuple[str, Path, list[str]]], list[str]]:
    """(where, script, argv) of each documented ``python <dir>/<script>.py`` call (of
    ``shell``, default: all pages), and the problems found on the way (a named repository file
    that does not exist)."""
    calls, problems = [], []
    for page, line, _, argv in SHELL if shell is None else shell:
        where = f"{page.relative_to(REPO) if page.is_relative_to(REPO) else page}:{line}"
        words = [w for w in argv if not _ASSIGN.match(w)]
        if not words:
            continue
        if _PYTHON.match(words[0]):
            rest = words[1:]
            while rest and rest[0].startswith("-") and rest[0] not in ("-m", "-c"):
                rest = rest[1:]  # interpreter options such as -u, -X
            if rest[:1] == ["-c"] and len(rest) > 1:  # inline code: compiles, names exist
                try:
                    compile(rest[1], where, "exec")
                except SyntaxError as exc:
                    problems.append(f"{where}: python -c: {exc}")
                else:
                    problems += stale_names(rest[1], where)
                continue
            if not rest or rest[0] == "-m" or not rest[0].endswith(".py"):
                continue
            target = _repo_path(rest[0])
            if target is None:
                continue  # the reader's own file
            if not target.is_file():
                problems.append(f"{where}: {rest[0]} does not exist")
            elif target.parent.name in SCRIPT_DIRS and target.parent.parent == REPO:
                calls.append((where, target, [w for w in rest[1:] if w != "..."]))
        elif words[0] in ("bash", "sh", "source", "."):
            files = [w for w in words[1:] if not w.startswith("-")]
            target = _repo_path(files[0]) if files else None
            if target is not None and not target.is_file():
                problems.append(f"{where}: {words[0]} {files[0]}: no such file")
        elif words[0] == "pip" or words[0].endswith("/pip"):
            for flag, value in zip(words, words[1:]):
                if flag in ("-c", "-r", "--constraint", "--requirement"):
                    target = _repo_path(value)
                    if target is not None and not target.is_file():
                        problems.append(f"{where}: pip {flag} {value}: no such file")
        else:
            target = _repo_path(words[0])
            if target is not None and not target.is_file():
                problems.append(f"{where}: {words[0]}: no such file")
    return calls, problems


def load_script(path: Path):
    """A thin script as a module, imported without running its ``main``."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"_docs_script_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    saved = dict(os.environ)  # some scripts set OMP_WAIT_POLICY on import
    try:
        spec.loader.exec_module(module)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return module


def script_argv_errors(calls) -> list[str]:
    """The documented script calls whose script's ``build_parser()`` rejects the arguments."""
    import contextlib
    import io

    errors, modules = [], {}
    for where, path, argv in calls:
        if path not in modules:
            modules[path] = load_script(path)
        build = getattr(modules[path], "build_parser", None)
        if build is None:
            errors.append(f"{where}: {path.relative_to(REPO)} has no build_parser()")
            continue
        err = io.StringIO()
        try:
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                build().parse_args(argv)
        except SystemExit as exc:
            if exc.code not in (0, None):
                message = err.getvalue().strip().splitlines()[-1:] or [""]
                errors.append(f"{where}: python {path.relative_to(REPO)} {shlex.join(argv)}"
                              f"\n    {message[0]}")
    return errors


def test_documented_scripts_and_files_exist_and_parse():
    calls, problems = script_calls()
    assert len(calls) >= 20, calls
    assert {p.parent.name for _, p, _ in calls} == set(SCRIPT_DIRS)
    problems += script_argv_errors(calls)
    assert not problems, "stale commands in the docs:\n" + "\n".join(problems)


def test_every_script_has_a_parser():
    for folder in SCRIPT_DIRS:
        for path in sorted((REPO / folder).glob("*.py")):
            usage = load_script(path).build_parser().format_usage()
            assert usage.startswith("usage: "), path


def test_script_and_file_checks_catch_stale_commands(tmp_path):
    cmds = [argv for _, _, argv in shell_commands(_fake_page(tmp_path))]
    assert cmds == [["OMP_NUM_THREADS=1", ".venv/bin/python", "analyses/convergence.py",
                     "--steps", "3", "--bogus"],
                    ["bash", "setup.sh"], ["python", "analyses/gone.py", "--out", "x"],
                    [".ci/nothing"],
                    ["python", "-c", "from neurofond.responses import Windoe"],
                    ["python", "analyses/dictionary.py", "--n-starts", "2", "--full"],
                    ["bash", "benchmarks/nothing.sh"]]
    calls, problems = script_calls([(tmp_path / "page.md", 1, "", a) for a in cmds])
    assert [c[2] for c in calls] == [["--steps", "3", "--bogus"], ["--n-starts", "2", "--full"]]
    where = f"{tmp_path / 'page.md'}:1"
    assert len(problems) == 4, problems
    assert problems[:2] == [f"{where}: analyses/gone.py does not exist",
                            f"{where}: .ci/nothing: no such file"]
    assert problems[2].startswith(f"{where}, line 1: import neurofond.responses.Windoe: ")
    assert problems[3] == f"{where}: bash benchmarks/nothing.sh: no such file"
    where = str(tmp_path / "page.md")  # as script_calls writes it for a page outside REPO
    errors = script_argv_errors([(where, REPO / "analyses" / "convergence.py",
                                  ["--steps", "3", "--bogus"]),
                                 (where, REPO / "analyses" / "dictionary.py",
                                  ["--n-starts", "2", "--full"])])
    assert len(errors) == 1 and "unrecognized arguments: --bogus" in errors[0], errors
    assert errors[0].startswith(where + ": python analyses/convergence.py")
    assert _repo_path("setup.sh") == REPO / "setup.sh" and _repo_path("results/x") is None
    assert _repo_path(".ci/nothing") == REPO / ".ci" / "nothing"
    assert _split_commands("a 1 && b 'x y' > out.txt; c # d") == [["a", "1"], ["b", "x y"],
                                                                  ["c"]]


def _fake_page(tmp_path: Path) -> Path:
    page = tmp_path / "page.md"
    page.write_text("x\n```bash\nOMP_NUM_THREADS=1 .venv/bin/python analyses/convergence.py \\\n"
                    "    --steps 3 --bogus   # c\nbash setup.sh && python analyses/gone.py --out x"
                    "\n.ci/nothing\npython -c 'from neurofond.responses import Windoe'\n```\n"
                    "run `python analyses/dictionary.py --n-starts 2\n"
                    "--full` or `bash benchmarks/nothing.sh`; `results/out.json`, `x = 1`.\n")
    return page


def inline_cli_mentions() -> list[tuple[str, list[str]]]:
    """(where, words) of each inline-code ``neurofond <subcommand> ...`` in README and docs."""
    out = []
    for page in _doc_pages():
        prose = _without_fences(page.read_text())
        for m in _INLINE.finditer(prose):
            words = m[1].split()
            if len(words) > 1 and words[0] in ("neurofond", ".venv/bin/neurofond"):
                line = prose.count("\n", 0, m.start()) + 1
                try:
                    words = shlex.split(" ".join(words[1:]))
                except ValueError:
                    pass
                out.append((f"{page.relative_to(REPO)}:{line}", words))
    return out


def cli_mention_problems(mentions) -> list[str]:
    """Inline mentions name a subcommand that exists and only options it has (prose may leave
    out required arguments and write ``a|b`` alternatives or ``[--option VALUE]``)."""
    import argparse

    from neurofond.cli import build_parser

    problems = []
    for where, words in mentions:
        parser, rest = build_parser(), list(words)
        while rest:
            sub = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
            if not sub or rest[0].startswith("-"):
                break
            names = rest.pop(0).split("|")
            unknown = [n for n in names if n not in sub[0].choices]
            if unknown:
                problems.append(f"{where}: neurofond {shlex.join(words)}: no subcommand "
                                f"{unknown[0]!r}")
                parser = None
                break
            parser = sub[0].choices[names[0]]
        for word in rest if parser is not None else ():
            option = word.strip("[]").split("=")[0]
            if option.startswith("-") and option not in ("-", "--") and \
                    option not in parser._option_string_actions:
                problems.append(f"{where}: neurofond {shlex.join(words)}: no option {option}")
    return problems


def test_inline_cli_mentions_name_existing_subcommands_and_options():
    mentions = inline_cli_mentions()
    assert len(mentions) >= 20, mentions
    problems = cli_mention_problems(mentions)
    assert not problems, "stale neurofond mentions in the docs:\n" + "\n".join(problems)
    caught = cli_mention_problems([("p.md:1", ["datasets", "list|infos"]),
                                   ("p.md:2", ["compare", "[--models", "...]", "--bogus"]),
                                   ("p.md:3", ["evaluate", "--device", "cuda"])])
    assert caught == ["p.md:1: neurofond datasets 'list|infos': no subcommand 'infos'",
                      "p.md:2: neurofond compare '[--models' '...]' --bogus: no option --bogus"]


def doc_python_blocks() -> list[tuple[Path, Block, bool]]:
    """(page, block, run) of every python block of docs/ outside the tutorials; ``run``: the
    line before the fence is ``<!-- docs-run -->`` (cheap: executed, in page order), or
    ``<!-- docs-run needs-data: <dataset> -->`` (skipped when the dataset is absent)."""
    out = []
    for page in sorted(DOCS.rglob("*.md")):
        if page.parent.name == "tutorials":
            continue  # executed in full by test_tutorial_runs_and_shows_its_outputs
        text = page.read_text()
        lines = text.split("\n")
        for b in fenced_blocks(text):
            if b.lang == "python":
                out.append((page, b, b.start > 0 and bool(_RUN.search(lines[b.start - 1]))))
    return out


_MISSING = object()


def stale_names(code: str, label: str) -> list[str]:
    """What a doc block names that does not exist: a ``neurofond`` module or name it imports
    (also a script imported from analyses/, scripts/, benchmarks/), an attribute of an
    imported name, or a keyword argument the called function does not take."""
    import ast
    import importlib
    import inspect

    tree = ast.parse(code)
    env, problems = {}, []

    def module(name: str, line: int):
        try:
            return importlib.import_module(name)
        except ImportError as exc:
            problems.append(f"{label}, line {line}: import {name}: {exc}")
            return _MISSING

    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and not node.level and node.module and \
                node.module.split(".")[0] == "neurofond":
            mod = module(node.module, node.lineno)
            for alias in node.names:
                if mod is _MISSING or alias.name == "*":
                    continue
                value = getattr(mod, alias.name, _MISSING)
                if value is _MISSING:
                    value = module(f"{node.module}.{alias.name}", node.lineno)
                env[alias.asname or alias.name] = value
        elif isinstance(node, ast.Import):
            for alias in node.names:
                top = alias.name.split(".")[0]
                scripts = [REPO / d / f"{top}.py" for d in SCRIPT_DIRS]
                if top == "neurofond":
                    mod = module(alias.name, node.lineno)
                    env[alias.asname or top] = mod if alias.asname else module(top, 0)
                elif any(p.is_file() for p in scripts):
                    env[alias.asname or top] = load_script(next(p for p in scripts
                                                                if p.is_file()))
    env = {k: v for k, v in env.items() if v is not _MISSING}

    def resolve(node):
        if isinstance(node, ast.Name):
            return env.get(node.id, _MISSING)
        if isinstance(node, ast.Attribute):
            owner = resolve(node.value)
            if owner is _MISSING:
                return _MISSING
            value = getattr(owner, node.attr, _MISSING)
            if value is _MISSING:
                problems.append(f"{label}, line {node.lineno}: {ast.unparse(node)}: "
                                f"{getattr(owner, '__name__', owner)!s} has no {node.attr!r}")
            return value
        return _MISSING

    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load):
            resolve(node)  # the same missing attribute reported once (set below)
        if not isinstance(node, ast.Call):
            continue
        func = resolve(node.func)
        try:
            params = inspect.signature(func).parameters if callable(func) else None
        except (TypeError, ValueError):
            params = None
        if not params or any(p.kind is p.VAR_KEYWORD for p in params.values()):
            continue
        for kw in node.keywords:
            if kw.arg is not None and kw.arg not in params:
                problems.append(f"{label}, line {node.lineno}: {ast.unparse(node.func)}() takes"
                                f" no argument {kw.arg!r}")
    return sorted(set(problems))


DOC_PYTHON = doc_python_blocks()


def test_doc_python_blocks_compile_and_name_what_exists():
    assert len(DOC_PYTHON) >= 8, DOC_PYTHON
    problems = []
    for page, block, _ in DOC_PYTHON:
        label = f"{page.relative_to(REPO)}:{block.start + 1}"
        try:
            compile(block.code, label, "exec")
        except SyntaxError as exc:
            problems.append(f"{label}: {exc}")
            continue
        problems += stale_names(block.code, label)
    assert not problems, "stale python in the docs:\n" + "\n".join(problems)


def test_stale_name_check_catches_changes():
    code = ("from neurofond.responses import Window, select_stimuli, gone_name\n"
            "from neurofond import compare\nimport neurofond.nothing\nimport convergence\n"
            "Window(0, 500, bogus=1)\ncompare.no_such(1)\n"
            "convergence.run('x', steps=3)\nconvergence.run('x', stepz=3)\n"
            "select_stimuli(resp, orientation=90)\n")
    found = stale_names(code, "page.md:1")
    assert any("gone_name" in p for p in found), found
    assert any("import neurofond.nothing" in p for p in found), found
    assert any("line 5" in p and "'bogus'" in p for p in found), found
    assert any("line 6" in p and "'no_such'" in p for p in found), found
    assert any("line 8" in p and "'stepz'" in p for p in found), found
    assert len(found) == 5, found  # select_stimuli(orientation=...) goes to **params


@pytest.mark.parametrize("page", sorted({p for p, _, run in DOC_PYTHON if run}),
                         ids=lambda p: p.stem)
def test_marked_doc_python_blocks_run(page, tmp_path):
    """The ``<!-- docs-run -->`` blocks of a page run in page order, from a folder that sees
    the repository's analyses/, scripts/ and benchmarks/ as a checkout does."""
    lines = page.read_text().split("\n")
    marked = [block for where, block, run in DOC_PYTHON if where == page and run]
    for block in marked:
        name = _RUN.search(lines[block.start - 1])[1]
        if name:
            from neurofond.datasets import dataset_path

            try:
                dataset_path(name)
            except FileNotFoundError as exc:
                pytest.skip(f"{page.name}:{block.start + 1} needs dataset {name!r}: {exc}")
    for folder in SCRIPT_DIRS:
        (tmp_path / folder).symlink_to(REPO / folder, target_is_directory=True)
    run_blocks([block.code for block in marked], tmp_path, page.name)


# ---------------------------------------------------------------- the site
# API pages: page -> (title, documented roots). A new top-level package needs a row here and a
# line in mkdocs.yml's nav; new modules inside a listed package need only the refresh command.
API_PAGES = {
    "responses": ("neurofond.responses", ["neurofond.responses"]),
    "fond": ("neurofond.fond", ["neurofond.fond"]),
    "pretrained": ("neurofond.pretrained", ["neurofond.pretrained"]),
    "stimuli": ("neurofond.stimuli", ["neurofond.stimuli"]),
    "population": ("neurofond.population", ["neurofond.population"]),
    "insilico": ("neurofond.insilico", ["neurofond.insilico"]),
    "models": ("neurofond.models", ["neurofond.models"]),
    "recordings": ("neurofond.recordings", ["neurofond.recordings"]),
    "analysis": ("neurofond.analysis", ["neurofond.analysis"]),
    "compare": ("neurofond.compare", ["neurofond.compare"]),
    "conversions": ("neurofond.conversions", ["neurofond.conversions"]),
    "brainscore": ("neurofond.brainscore", ["neurofond.brainscore"]),
    "datasets": ("neurofond.datasets and neurofond.data", ["neurofond.datasets", "neurofond.data"]),
    "sweep": ("neurofond.sweep", ["neurofond.sweep"]),
    "report": ("neurofond.report and neurofond.cli", ["neurofond.report", "neurofond.cli"]),
    "other": ("Other modules", []),  # public modules no page above covers (filled by refresh)
}


def public_modules() -> list[str]:
    """Public modules of the package: committed files (git) or, outside a checkout, all files."""
    try:
        files = subprocess.run(["git", "ls-files", "neurofond"], cwd=REPO, capture_output=True,
                               text=True, check=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        files = []
    paths = [Path(f) for f in files] or [p.relative_to(REPO) for p in
                                         (REPO / "neurofond").rglob("*.py")]
    names = set()
    for path in paths:
        if path.suffix != ".py" or not (REPO / path).is_file():
            continue
        parts = path.with_suffix("").parts
        parts = parts[:-1] if parts[-1] == "__init__" else parts
        if not any(part.startswith("_") for part in parts):
            names.add(".".join(parts))
    return sorted(names)


def _hooks():
    """docs/hooks.py (the mkdocs hooks) as a module."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("neurofond_docs_hooks", DOCS / "hooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def api_page(title: str, roots: list[str], modules: list[str]) -> str:
    """The text of one API page: a roots marker, then each root (a package: its docstring,
    then its modules). No roots: the "other" page, roots = whatever no other page covers."""
    lines = [f"# {title}", "", f"<!-- api-roots: {' '.join(roots) or '*'} -->", ""]
    if not roots:
        named = [r for _, rs in API_PAGES.values() for r in rs]
        roots = sorted({".".join(m.split(".")[:2]) for m in modules if "." in m}
                       - set(named) - {"neurofond"})
        roots = [r for r in roots if not any(r.startswith(n + ".") for n in named)]
        lines += ["Public modules that have no page of their own yet (a new page is a row in",
                  "`API_PAGES` of `tests/test_docs.py` and a line in `mkdocs.yml`).", ""]
        if not roots:
            lines += ["None at present.", ""]
    for root in roots:
        subs = [m for m in modules if m.startswith(root + ".")]
        if subs:
            lines += [f"::: {root}", "    options:", "      members: false", ""]
            lines += [line for m in subs for line in (f"::: {m}", "")]
        else:
            lines += [f"::: {root}", ""]
    return "\n".join(lines)


def test_api_reference_covers_every_public_module():
    """Each page names its packages; the build hook adds modules the page does not list yet,
    so together they cover every public module; no page names a module that does not exist."""
    modules = public_modules()
    hooks = _hooks()
    assert set(modules) <= set(hooks.public_modules(REPO / "neurofond"))  # same rule
    named = [r for _, roots in API_PAGES.values() for r in roots]
    covered, problems = set(), []
    for page, (title, roots) in API_PAGES.items():
        path = DOCS / "api" / f"{page}.md"
        if UPDATE:
            path.write_text(api_page(title, roots, modules))
        text = path.read_text() if path.is_file() else ""
        if hooks.page_roots(text) != roots or (not roots and "api-roots: *" not in text):
            problems.append(f"{path.name}: roots marker is not {roots or '*'}")
        listed = re.findall(r"^::: ([\w.]+)", text, flags=re.M)
        gone = sorted(set(listed) - set(modules))
        if gone:
            problems.append(f"{path.name} names modules that do not exist: {gone}")
        completed = hooks.complete_api_page(text, modules, named)
        covered |= set(re.findall(r"^::: ([\w.]+)", completed, flags=re.M))
    covered |= {"neurofond"}  # api/neurofond.md: the lazy face, written by hand
    missing = sorted(set(modules) - covered)
    assert not missing, f"public modules on no API page: {missing}"
    assert not problems, ("\n".join(problems) + "\nrefresh: NEUROFOND_UPDATE_DOCS=1 "
                          ".venv/bin/python -m pytest -q -p no:cacheprovider tests/test_docs.py "
                          "-k api_reference")
    nav = (REPO / "mkdocs.yml").read_text()
    assert all(f"api/{page}.md" in nav for page in [*API_PAGES, "neurofond", "index"])


def test_build_hook_appends_modules_a_page_does_not_list():
    hooks = _hooks()
    page = "# x\n\n<!-- api-roots: neurofond.a -->\n\n::: neurofond.a\n\n::: neurofond.a.one\n"
    modules = ["neurofond", "neurofond.a", "neurofond.a.one", "neurofond.a.two", "neurofond.b",
               "neurofond.c.d"]
    done = hooks.complete_api_page(page, modules, ["neurofond.a"])
    assert re.findall(r"^::: (\S+)", done, flags=re.M) == ["neurofond.a", "neurofond.a.one",
                                                           "neurofond.a.two"]
    other = hooks.complete_api_page("<!-- api-roots: * -->\n", modules, ["neurofond.a"])
    assert re.findall(r"^::: (\S+)", other, flags=re.M) == ["neurofond.b", "neurofond.c.d"]
    assert hooks.complete_api_page("# no marker\n", modules, []) == "# no marker\n"
    html = ('<h2 id="neurofond.a.fev">fev</h2> :func:<code>fev</code> '
            ':func:<code>~neurofond.a.one.f</code> :math:<code>x^2</code> :func:<code>nope</code>')
    out = hooks.on_page_content(html)
    assert '<autoref identifier="neurofond.a.fev" optional><code>fev</code></autoref>' in out
    assert '<autoref identifier="neurofond.a.one.f" optional><code>f</code></autoref>' in out
    assert "<code>x^2</code>" in out and "<code>nope</code>" in out and ":func:" not in out


def test_site_builds_strict(tmp_path):
    mkdocs = Path(sys.executable).with_name("mkdocs")
    if not mkdocs.exists():
        pytest.skip(f"mkdocs is not installed at {mkdocs} (pip install -e '.[docs]')")
    proc = subprocess.run([str(mkdocs), "build", "--strict", "--site-dir", str(tmp_path / "s")],
                          cwd=REPO, capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, NO_MKDOCS_2_WARNING="1", OMP_NUM_THREADS="1"))
    assert proc.returncode == 0, proc.stderr[-5000:]
    assert (tmp_path / "s" / "api" / "analysis" / "index.html").is_file()
    html = (tmp_path / "s" / "api" / "analysis" / "index.html").read_text()
    assert "tuning_curve" in html
    # docs/hooks.py: Sphinx roles become links (documented targets) or code, never raw text
    assert not re.search(r":(func|class|mod|meth|data|attr|math):<code>", html)
    assert 'class="autorefs autorefs-internal"' in html


def test_license_matches_the_declared_one():
    import tomllib

    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["license"]
    text = (REPO / "LICENSE").read_text()
    assert declared == {"text": "MIT"} and text.startswith("MIT License\n")
    assert "Permission is hereby granted, free of charge" in text and "AS IS" in text


def test_datasets_page_includes_every_card_with_its_license():
    from neurofond.datasets import dataset_info, list_datasets

    page = (DOCS / "datasets.md").read_text()
    for name in list_datasets():
        assert f'--8<-- "datasets/{name}.md"' in page, name
        assert dataset_info(name)["license"] in page, name
    cards = {p.stem for p in (REPO / "datasets").glob("*.md")}
    assert cards == set(list_datasets())


def test_docs_do_not_link_into_the_development_tree():
    for page in [REPO / "README.md", *DOCS.rglob("*.md")]:
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text()):
            assert "shared/" not in target, f"{page.name} links to {target}"
    assert "shared/docs" not in (DOCS / "install.md").read_text()
