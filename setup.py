"""Which packages the distribution installs (the metadata is in pyproject.toml), and the
optional mypyc compilation of the explorer's hot modules.

Everything under ``specmodel/``, plus the repository's ``checks/`` folder of claims installed
as ``specmodel.checks``: the claim ids stay ``checks.<module>.<name>`` (see
``specmodel.claims``), but site-packages gets no generic top-level ``checks`` package that
would collide with a user's own. pyproject.toml cannot express "found packages plus one
mapped folder", hence this file.

Compilation (docs/guide/install.rst): a regular build (``pip install .``, ``python -m build``)
compiles ``COMPILED`` with mypyc when it can, and otherwise installs the same modules as pure
Python, saying why once. ``SPECMODEL_COMPILE=0`` never compiles, ``SPECMODEL_COMPILE=1``
makes a failure to compile an error. An editable install (``pip install -e .``) never
compiles: an extension module built in place would shadow the ``.py`` a developer edits.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Any

from setuptools import Distribution, find_namespace_packages, setup
from setuptools.command.bdist_wheel import bdist_wheel
from setuptools.command.build_ext import build_ext

CLAIMS = "specmodel.checks"
_SKIP = ["__pycache__", "*.__pycache__"]
HERE = Path(__file__).resolve().parent

#: The modules mypyc compiles: the kernel model and the sequential explorer, where an
#: exploration spends its time. Left out, as pure Python:
#: - explorer/sharded.py, swarm.py: process and Ray plumbing (pickling, pools, queues), not
#:   hot, and swarm.py imports the optional ray;
#: - explorer/exprs.py: evaluates user invariant expressions with eval(), nothing to gain;
#: - explorer/timeline.py, trace.py: report formatting, run once per violation;
#: - kernel/scenario.py (parameter checking, run once): ``ParamValue = int | bool`` is
#:   ``int`` to mypy, and mypyc stores an ``int`` natively, so a bool default would come
#:   back as 1 and ``isinstance(p.default, bool)`` would turn false;
#: - kernel/__init__.py (constants and two enums): mypyc sets a compiled package's __path__
#:   from the shared library's folder as if that were above the package tree, and with the
#:   library inside specmodel/ (GROUP) it points at specmodel/specmodel/kernel, so no
#:   submodule of specmodel.kernel would import.
COMPILED = sorted(
    [
        *(
            str(p.relative_to(HERE))
            for p in (HERE / "specmodel" / "kernel").glob("*.py")
            if p.name not in ("__init__.py", "scenario.py")
        ),
        *(
            f"specmodel/explorer/{name}.py"
            for name in ("search", "visited", "symmetry", "invariants", "shadow_invariants")
        ),
    ]
)
#: mypyc's shared library of the compiled modules: specmodel/_mypyc__mypyc.<abi>.so (inside
#: the package, so that site-packages gets nothing at the top level but specmodel).
GROUP = "specmodel._mypyc"
ENV = "SPECMODEL_COMPILE"


def _mode() -> str:
    """'0' (never compile), '1' (compile or fail) or 'auto' (compile if possible)."""
    value = os.environ.get(ENV, "").strip()
    if value not in ("", "0", "1"):
        sys.exit(f"error: {ENV}={value!r}: expected 0 (pure Python), 1 (compile) or unset")
    return value or "auto"


class CompileFailed(Exception):
    """Why the modules could not be compiled (the fallback prints it)."""


def _check_compiler(build_temp: str) -> None:
    """Compile and link a trivial extension source, as build_ext would: a missing or broken
    C compiler fails here in a second instead of after mypyc's minute of code generation."""
    from setuptools._distutils.ccompiler import new_compiler
    from setuptools._distutils.sysconfig import customize_compiler

    compiler: Any = new_compiler()
    customize_compiler(compiler)
    work = Path(tempfile.mkdtemp(dir=build_temp))
    try:
        source = work / "probe.c"
        source.write_text("#include <Python.h>\nint specmodel_probe(void) { return 0; }\n")
        import sysconfig

        objects = compiler.compile(
            [str(source)], output_dir=str(work), include_dirs=[sysconfig.get_paths()["include"]]
        )
        compiler.link_shared_object(objects, str(work / "probe.so"))
    except Exception as e:
        cc = " ".join(getattr(compiler, "compiler_so", None) or ["?"])
        raise CompileFailed(f"no working C compiler ({cc}): {e}") from None
    finally:
        shutil.rmtree(work, ignore_errors=True)


class BuildExt(build_ext):
    """Compiles ``COMPILED`` with mypyc in a regular build; never in an editable one."""

    def run(self) -> None:
        dist: SpecmodelDistribution = self.distribution  # type: ignore[assignment]
        if dist.compiled is not None:  # decided by an earlier run (bdist_wheel's install step
            if dist.compiled:  # runs build_ext again): only check the outputs are up to date
                super().run()
            return
        mode = _mode()
        if mode == "0" or self.inplace or getattr(self, "editable_mode", False) or _editable():
            dist.compiled = False
            if mode == "1":
                print(f"{ENV}=1 ignored: an editable install is never compiled", flush=True)
            return
        try:
            # extension modules an earlier build left in build/ for modules no longer
            # compiled would otherwise ship, and import a library that lacks them
            self._discard_outputs()
            self._set_extensions(self._mypycify())
            super().run()
        except Exception as e:  # CompileFailed, or the C compiler's or linker's error
            reason = str(e) if isinstance(e, CompileFailed) else _describe(e)
            if mode == "1":
                message = f"error: {ENV}=1 but the modules could not be compiled: {reason}"
                raise SystemExit(message) from e
            self._discard_outputs()
            dist.compiled = False
            dist.ext_modules = []
            print(
                f"specmodel: installing pure Python (not compiled with mypyc): {reason}. "
                f"Set {ENV}=1 to make this an error, {ENV}=0 to skip compiling.",
                flush=True,
            )
            return
        dist.compiled = True

    def _mypycify(self) -> list[Any]:
        os.makedirs(self.build_temp, exist_ok=True)
        _check_compiler(self.build_temp)
        try:
            from mypyc.build import mypycify
        except ImportError as e:
            raise CompileFailed(f"mypyc is not installed ({e})") from None
        old = os.getcwd()
        os.chdir(HERE)  # mypycify takes paths relative to the source tree
        try:
            extensions = list(mypycify(COMPILED, group_name=GROUP, target_dir=self.build_temp))
            sources = [src for ext in extensions for src in ext.sources if src.endswith(".c")]
            print(f"specmodel: {_keep_docstrings(sources)} docstrings kept", flush=True)
            _unpickle_like_python(sources)
            return extensions
        except SystemExit as e:  # mypyc exits on a type error, after printing it
            message = f"mypyc failed (exit status {e.code}; its errors are above)"
            raise CompileFailed(message) from None
        finally:
            os.chdir(old)

    def _set_extensions(self, extensions: list[Any]) -> None:
        """What setuptools' finalize_options does per extension (it ran before mypyc made
        them): none is a shared Library, so none links to another or needs a stub."""
        self.extensions = self.distribution.ext_modules = extensions
        for ext in extensions:
            ext._full_name = fullname = self.get_ext_fullname(ext.name)
            self.ext_map[fullname] = self.ext_map[fullname.split(".")[-1]] = ext
            ext._links_to_dynamic = ext._needs_stub = False
            ext._file_name = self.get_ext_filename(fullname)

    def _discard_outputs(self) -> None:
        """Remove every extension module from the build folder: this build's partial ones,
        and those an earlier compiled build left there (build/ persists between builds in
        the source tree), which a pure wheel, or a compiled one of other modules, would
        otherwise ship."""
        for path in Path(self.build_lib, "specmodel").rglob("*"):
            if path.suffix in (".so", ".pyd"):
                path.unlink()


def _docstrings() -> dict[tuple[str, str | None, str], str]:
    """(module, class or None, name) -> docstring, of every function and class in COMPILED
    (class None and the class's name for a class itself), as the interpreter stores it."""
    import ast

    clean = sys.version_info >= (3, 13)  # 3.13 strips the indentation when compiling
    out: dict[tuple[str, str | None, str], str] = {}
    for path in COMPILED:
        module = path.removesuffix(".py").replace("/", ".").removesuffix(".__init__")
        tree = ast.parse((HERE / path).read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.ClassDef):
                members = [n for n in node.body if isinstance(n, ast.FunctionDef)]
                for key, item in [((None, node.name), node)] + [
                    ((node.name, n.name), n) for n in members
                ]:
                    doc = ast.get_docstring(item, clean=clean)
                    if doc is not None:
                        out[(module, *key)] = doc
            elif isinstance(node, ast.FunctionDef):
                doc = ast.get_docstring(node, clean=clean)
                if doc is not None:
                    out[(module, None, node.name)] = doc
    return out


def _c_string(text: str) -> str:
    """``text`` as a C string literal (UTF-8; octal escapes, which never run on)."""
    out = []
    for byte in text.encode("utf-8"):
        char = chr(byte)
        if char in '"\\?':
            out.append("\\" + char)
        elif 32 <= byte < 127:
            out.append(char)
        else:
            out.append(f"\\{byte:03o}")
    return '"' + "".join(out) + '"'


def _keep_docstrings(c_files: list[str]) -> int:
    """Put the docstrings of compiled functions and classes into mypyc's C output.

    mypyc gives a compiled function, method or class only its signature as docstring (the
    "sig\\n--\\n\\n" form, which CPython turns into ``__text_signature__``). specmodel
    reads docstrings at run time (an invariant's description is its check's docstring,
    explorer/invariants.py), and ``help()`` and the API reference show them. So each
    ``PyDoc_STR(...)`` of a method table (module functions, class methods) and each
    ``.tp_doc`` gets the docstring after the signature; CPython strips the signature part,
    and ``__doc__`` is what the pure-Python module has. (mypyc is itself compiled, so its
    code generator cannot be patched from here; hence the text edit.) Returns the number of
    docstrings added.
    """
    import re

    docs = _docstrings()
    # mypyc names a module's C objects by a dotted suffix of its name, dots as "___":
    # "invariantsmodule_methods", "invariants___Invariant_methods", ...
    owners: dict[str, tuple[str, str | None]] = {}
    for module, cls, name in docs:
        for owner in {(module, cls), (module, None)} | ({(module, name)} if cls is None else set()):
            parts = owner[0].split(".")
            for i in range(len(parts)):
                prefix = "___".join(parts[i:])
                key = prefix + "module" if owner[1] is None else f"{prefix}___{owner[1]}"
                owners[key] = owner
    table = re.compile(r"static PyMethodDef (\w+)_methods\[\] = \{")
    template = re.compile(r"static PyTypeObject CPyType_(\w+)_template_ = \{")
    entry = re.compile(r'\{"(\w+)",')
    doc_str = re.compile(r'PyDoc_STR\((NULL|"(?:[^"\\]|\\.)*")\)')
    added = 0
    for path in c_files:
        lines = Path(path).read_text(encoding="utf-8").splitlines(keepends=True)
        owner: tuple[str, str | None] | None = None  # whose table or type this is
        kind = name = ""
        for i, line in enumerate(lines):
            if m := table.search(line):
                owner, kind = owners.get(m[1]), "table"
                continue
            if m := template.search(line):
                owner, kind = owners.get(m[1]), "type"
                continue
            if owner is None:
                continue
            if line.strip().startswith("};"):
                owner = None
                continue
            if kind == "table" and (m := entry.search(line)):
                name = m[1]
            key: tuple[str, str | None, str]
            if kind == "type" and ".tp_doc" in line:
                key = (owner[0], None, owner[1] or "")
            elif kind == "table" and "PyDoc_STR(" in line:
                key = (owner[0], owner[1], name)
            else:
                continue
            doc = docs.get(key)
            if doc is None:
                continue
            m = doc_str.search(line)
            if m is None:
                raise CompileFailed(f"{path}:{i + 1}: a docstring mypyc wrote unexpectedly")
            value = _c_string(doc) if m[1] == "NULL" else f"{m[1]} {_c_string(doc)}"
            lines[i] = line[: m.start(1)] + value + line[m.end(1) :]
            added += 1
        Path(path).write_text("".join(lines), encoding="utf-8")
    return added


_SETSTATE = """
/* specmodel (setup.py): unpickling sets each attribute with object.__setattr__, as pickle
   does for a Python class (it fills __dict__): mypyc's CPyPickle_SetState calls setattr(),
   which a frozen dataclass's __setattr__ refuses (FrozenInstanceError). */
static PyObject *specmodel_pickle_setstate(PyObject *obj, PyObject *state)
{
    PyObject *key, *value;
    Py_ssize_t pos = 0;
    if (!PyDict_Check(state)) {
        PyErr_SetString(PyExc_TypeError, "__setstate__ expects a dict");
        return NULL;
    }
    while (PyDict_Next(state, &pos, &key, &value)) {
        if (PyObject_GenericSetAttr(obj, key, value) < 0) {
            return NULL;
        }
    }
    Py_RETURN_NONE;
}

"""


def _unpickle_like_python(c_files: list[str]) -> None:
    """Make compiled frozen dataclasses (Exploration, Violation, Config, ...) unpicklable:
    a swarm's worker processes send their Exploration back pickled."""
    use = "(PyCFunction)CPyPickle_SetState"
    patched = 0
    for path in c_files:
        text = Path(path).read_text(encoding="utf-8")
        if use not in text:
            continue
        first = text.index("static PyMethodDef ")
        text = (
            text[:first]
            + _SETSTATE
            + text[first:].replace(use, "(PyCFunction)specmodel_pickle_setstate")
        )
        Path(path).write_text(text, encoding="utf-8")
        patched += 1
    if not patched:
        # the compiled modules do have frozen dataclasses (search.py's Exploration): a
        # mypyc that no longer writes this call needs this patch looked at, not skipped
        raise CompileFailed(f"no {use} in mypyc's output to make unpickling work")


def _describe(e: BaseException) -> str:
    line = traceback.format_exception_only(e)[-1].strip()
    return f"the C build failed: {line}"


def _editable() -> bool:
    """Whether setuptools was asked for an editable install (``pip install -e``)."""
    return any(cmd in ("editable_wheel", "develop") for cmd in _COMMANDS)


_COMMANDS: list[str] = []


class SpecmodelDistribution(Distribution):
    """Has extension modules until build_ext has run and decided, then only if it compiled:
    the build runs build_ext, and a wheel that fell back to pure Python is tagged pure."""

    compiled: bool | None = None

    def has_ext_modules(self) -> bool:
        if self.compiled is None:
            return _mode() != "0" and not _editable()
        return self.compiled

    def parse_command_line(self) -> bool:
        result = bool(super().parse_command_line())
        _COMMANDS[:] = self.commands
        return result


class BdistWheel(bdist_wheel):
    """Builds first, then tags the wheel: pure unless build_ext compiled."""

    def run(self) -> None:
        if not self.skip_build:
            build = self.reinitialize_command("build_ext")
            build.inplace = False  # type: ignore[attr-defined]
            self.run_command("build")
        self.root_is_pure = not self.distribution.has_ext_modules()
        super().run()


_mode()  # a bad SPECMODEL_COMPILE fails every command, at once
setup(
    distclass=SpecmodelDistribution,
    cmdclass={"build_ext": BuildExt, "bdist_wheel": BdistWheel},
    packages=[
        # Namespace discovery also finds data-only folders (sphinxext/static), whose files
        # [tool.setuptools.package-data] in pyproject.toml then ships.
        *find_namespace_packages(include=["specmodel", "specmodel.*"], exclude=_SKIP),
        CLAIMS,
        *(f"{CLAIMS}.{name}" for name in find_namespace_packages("checks", exclude=_SKIP)),
    ],
    package_dir={CLAIMS: "checks"},
)
