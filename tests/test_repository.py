"""The repository stands on its own: a fresh clone has no dangling reference.

* No file points outside the repository at a ``shared/`` folder (the design brief and data that
  only the developers' machines have).
* Every relative link in README.md and docs/ resolves to a file of the repository.
* Every ``docs/<file>.md`` cited in code, comments or docs exists, and every cited
  ``docs/method.md §N`` is a section of docs/method.md.
* Packaging says what is true: no exact pins in the runtime dependencies, and no dependency
  that nothing imports.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
THIS = Path(__file__).resolve()

#: Folders whose every text file is searched, and single files at the root.
SEARCHED_DIRS = ("python", "csrc", "cuda", "scripts", "benchmarks", "tests", "docs", ".ci")
SEARCHED_FILES = ("README.md", "pyproject.toml", "CMakeLists.txt")
SKIPPED_PARTS = {"__pycache__", ".pytest_cache", ".benchmarks", "build", ".venv"}

#: ``shared/`` references a test may make on purpose, as ``(path relative to the repository,
#: exact referenced text)``; nothing else in the repository may point at ``shared/``. (A test
#: that reads real data from the developers' shared folder must skip when it is absent and be
#: listed here.)
ALLOWED_SHARED_REFERENCES: frozenset[tuple[str, str]] = frozenset({
    ("tests/test_superpoints.py", "../shared/data/real/scene0000_00"),
    ("tests/test_scannet_gt.py", "../shared/data/real"),
    ("tests/test_superpoint_proposals.py", "../shared/data/real"),
})

SHARED_REFERENCE = re.compile(
    r"(?<![\w.-])(?:\.\./)*shared/[\w./-]*"  # ../shared/design/..., /work/shared/data
    r"""|/\s*["']shared["']"""  # pathlib: ROOT.parent / "shared"
    r"""|join\([^)]*["']shared["']""")  # os.path.join(..., "shared", ...)
#: The design brief's file names: the project's own documentation lives in docs/.
BRIEF_NAMES = re.compile(r"\b(?:METHOD|FORMATS|STYLE)\.md\b")
DOC_CITATION = re.compile(r"docs/([\w.-]+\.md)")
METHOD_SECTION_CITATION = re.compile(r"method\.md\)?,?\s*§\s*(\d+)(?:\s*[–-]\s*(\d+))?")
MARKDOWN_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")


def _text_files() -> list[Path]:
    files = [ROOT / name for name in SEARCHED_FILES if (ROOT / name).is_file()]
    for folder in SEARCHED_DIRS:
        for path in sorted((ROOT / folder).rglob("*")):
            if not path.is_file() or SKIPPED_PARTS & set(path.relative_to(ROOT).parts):
                continue
            files.append(path)
    texts = []
    for path in files:
        data = path.read_bytes()
        if b"\0" in data[:8192]:  # binary (weights, compiled extensions)
            continue
        texts.append(path)
    return texts


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8", errors="replace").splitlines()


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _markdown_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def _strip_code(markdown: str) -> str:
    """Markdown without fenced code blocks and inline code (links there are not links)."""
    markdown = re.sub(r"^```.*?^```", "", markdown, flags=re.DOTALL | re.MULTILINE)
    return re.sub(r"`[^`\n]*`", "", markdown)


def test_no_file_points_at_a_shared_folder_outside_the_repository():
    found = []
    for path in _text_files():
        if path == THIS:
            continue
        for number, line in enumerate(_lines(path), 1):
            for match in SHARED_REFERENCE.finditer(line):
                if (_rel(path), match.group(0)) not in ALLOWED_SHARED_REFERENCES:
                    found.append(f"{_rel(path)}:{number}: {match.group(0)}")
    assert not found, ("references to a shared/ folder that a clone does not have (write it "
                       "into docs/ instead):\n" + "\n".join(found))


def test_no_file_names_the_design_brief_instead_of_docs():
    found = [f"{_rel(path)}:{number}: {line.strip()[:100]}"
             for path in _text_files() if path != THIS
             for number, line in enumerate(_lines(path), 1) if BRIEF_NAMES.search(line)]
    assert not found, ("METHOD.md / FORMATS.md / STYLE.md are not in the repository; cite "
                       "docs/method.md or docs/formats.md:\n" + "\n".join(found))


def test_readme_and_docs_relative_links_resolve_to_repository_files():
    broken = []
    for md in _markdown_files():
        for number, line in enumerate(_strip_code(md.read_text(encoding="utf-8")).splitlines(),
                                      1):
            for match in MARKDOWN_LINK.finditer(line):
                target = match.group(1)
                if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
                    continue  # a URL or an anchor in the same page
                resolved = (md.parent / target.split("#", 1)[0]).resolve()
                if not resolved.exists() or ROOT not in (resolved, *resolved.parents):
                    broken.append(f"{_rel(md)}: link to {target}")
    assert not broken, "links that do not resolve inside the repository:\n" + "\n".join(broken)


def test_readme_points_at_the_method_and_formats_docs():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for doc in ("docs/method.md", "docs/formats.md"):
        assert f"]({doc})" in readme, f"README.md does not link to {doc}"


def test_every_cited_doc_exists():
    missing = []
    for path in _text_files():
        for number, line in enumerate(_lines(path), 1):
            for match in DOC_CITATION.finditer(line):
                if not (ROOT / "docs" / match.group(1)).is_file():
                    missing.append(f"{_rel(path)}:{number}: docs/{match.group(1)}")
    assert not missing, "cited docs that do not exist:\n" + "\n".join(missing)


def _method_sections() -> set[int]:
    text = (ROOT / "docs" / "method.md").read_text(encoding="utf-8")
    return {int(n) for n in re.findall(r"^#+\s*§\s*(\d+)\b", text, flags=re.MULTILINE)}


def test_method_doc_has_the_nine_numbered_sections():
    assert _method_sections() == set(range(1, 10))


def test_every_cited_method_section_exists():
    sections = _method_sections()
    missing = []
    for path in _text_files():
        for number, line in enumerate(_lines(path), 1):
            for match in METHOD_SECTION_CITATION.finditer(line):
                first = int(match.group(1))
                last = int(match.group(2) or first)
                for section in range(first, last + 1):
                    if section not in sections:
                        missing.append(f"{_rel(path)}:{number}: docs/method.md §{section}")
    assert not missing, ("cited sections that docs/method.md does not have:\n"
                         + "\n".join(missing))


#: Compiled extensions: built or not depending on the machine, named in the docs all the same.
OPTIONAL_MODULES = ("folk._C", "folk._cuda")
PYTHON_NAME = re.compile(r"(?<![\w.])folk(?:\.[A-Za-z_]\w*)+")
PYTHON_IMPORT = re.compile(r"^\s*from\s+(folk(?:\.\w+)*)\s+import\s+([\w, ]+?)\s*(?:#.*)?$")


def _resolves(dotted: str) -> bool:
    import importlib

    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        module = ".".join(parts[:cut])
        try:
            obj = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name and (module == exc.name or module.startswith(exc.name + ".")):
                continue  # no such module: the name may be an attribute of a shorter prefix
            raise  # the module exists but needs something missing: a real error
        try:
            for attr in parts[cut:]:
                obj = getattr(obj, attr)
        except AttributeError:
            return False
        return True
    return False


def test_every_python_name_in_the_docs_exists():
    """``folk.x.y`` named in README.md or docs/ imports (modules move; the docs follow)."""
    names: dict[str, str] = {}
    for md in _markdown_files():
        for number, line in enumerate(md.read_text(encoding="utf-8").splitlines(), 1):
            found = [n for code in re.findall(r"`([^`]+)`", line)
                     for n in PYTHON_NAME.findall(code)]
            imports = PYTHON_IMPORT.match(line)  # code blocks: from folk.x import a, b
            if imports:
                found += [f"{imports.group(1)}.{n.strip()}" for n in imports.group(2).split(",")
                          if n.strip()]
            for name in found:
                names.setdefault(name.rstrip("."), f"{_rel(md)}:{number}")
    missing = [f"{where}: {name}" for name, where in sorted(names.items(), key=lambda x: x[1])
               if not name.startswith(OPTIONAL_MODULES) and not _resolves(name)]
    assert not missing, "names in the docs that folk does not have:\n" + "\n".join(missing)


def test_ci_runs_the_test_command_the_readme_gives():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "bash scripts/test.sh" in ci
    assert "bash scripts/test.sh" in readme


# ---- packaging ----------------------------------------------------------------------------

#: Distribution name (as in pyproject.toml) -> the module folk imports it as.
IMPORT_NAMES = {"numpy": "numpy", "scipy": "scipy", "torch": "torch",
                "open_clip_torch": "open_clip", "open-clip-torch": "open_clip",
                "open3d-cpu": "open3d", "open3d": "open3d", "pillow": "PIL", "tqdm": "tqdm",
                "onnx": "onnx", "onnxruntime": "onnxruntime",
                "huggingface_hub": "huggingface_hub", "huggingface-hub": "huggingface_hub",
                "pytest": "pytest", "viser": "viser", "websockets": "websockets",
                # tools, not imported: the benchmarks use pytest-benchmark's `benchmark` fixture
                "pytest-benchmark": None, "ruff": None}


def _pyproject() -> dict:
    tomllib = pytest.importorskip("tomllib")
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _distribution(requirement: str) -> str:
    return re.split(r"[\s<>=!~;\[]", requirement, maxsplit=1)[0].lower()


def _imported_modules(*folders: str) -> set[str]:
    pattern = re.compile(r"^\s*(?:from|import)\s+([A-Za-z_]\w*)", re.MULTILINE)
    modules = set()
    for folder in folders:
        for path in (ROOT / folder).rglob("*.py"):
            modules.update(pattern.findall(path.read_text(encoding="utf-8")))
    return modules


def test_runtime_dependencies_are_ranges_not_pins():
    pinned = [r for r in _pyproject()["project"]["dependencies"] if "==" in r or "===" in r]
    assert not pinned, (f"exact pins {pinned} belong in constraints.txt (used by "
                        "scripts/setup.sh), not in the package's dependencies")


def test_every_runtime_dependency_is_imported_by_folk():
    # folk's wheel ships python/folk and the torch-free runtime export/folk_runtime.
    imported = _imported_modules("python/folk", "export/folk_runtime")
    unused = []
    for requirement in _pyproject()["project"]["dependencies"]:
        name = _distribution(requirement)
        assert name in IMPORT_NAMES, f"add {name!r} to IMPORT_NAMES in this test"
        if IMPORT_NAMES[name] not in imported:
            unused.append(name)
    assert not unused, f"dependencies nothing in folk's wheel imports: {unused}"


def test_every_extra_dependency_is_used():
    imported = _imported_modules("python/folk", "export/folk_runtime", "tests", "benchmarks",
                                 "scripts")
    unused = []
    for extra, requirements in _pyproject()["project"].get("optional-dependencies", {}).items():
        for requirement in requirements:
            name = _distribution(requirement)
            assert name in IMPORT_NAMES, f"add {name!r} to IMPORT_NAMES in this test"
            module = IMPORT_NAMES[name]
            if module is not None and module not in imported:
                unused.append(f"{extra}: {name}")
    assert not unused, f"extra dependencies nothing imports: {unused}"


def test_every_declared_pytest_marker_is_used():
    markers = [m.split(":", 1)[0].strip()
               for m in _pyproject()["tool"]["pytest"]["ini_options"].get("markers", [])]
    sources = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "tests").rglob("*.py")
                        if p != THIS)
    unused = [m for m in markers if f"mark.{m}" not in sources]
    assert not unused, f"pytest markers declared but never used: {unused}"
