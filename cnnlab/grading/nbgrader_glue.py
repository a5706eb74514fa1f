"""nbgrader glue: ``SandboxedExecute`` replaces nbgrader's ``Execute`` step of ``nbgrader autograde``.

``nbgrader_config.py`` puts it first in ``Autograde.autograde_preprocessors``. For each submission:

1. the notebook runs top to bottom in a fresh kernel **inside the sandbox** (``sandbox.Sandbox``),
   driven by nbclient from this (trusted) process over unix sockets. Before each test cell the
   outbox is emptied; after it, what the sandbox recorded there is moved to trusted storage.
   A test cell that needs data (07's Fashion-MNIST) gets it through the inbox right before it runs,
   training images and held-out images only.
2. ``grade_notebook`` computes the verdict **here**: the static check of the submitted source, then
   every test cell's source *from the gradebook* runs with the trusted checker on the recorded
   results. Its outputs replace whatever the kernel printed in that cell. nbgrader's LimitOutput and
   SaveAutoGrades then score from those outputs.

A dead kernel (``os._exit``, the CPU limit) makes nbgrader drop that submission, as before.
"""

import ast
import fnmatch
import json
import os
import sys
import time

from nbformat import NotebookNode
from nbclient.util import run_sync
from traitlets import Bool, Integer, List, Unicode

from nbgrader.preprocessors import Execute
from jupyter_client.manager import AsyncKernelManager

from . import boundary, hidden, keys, static, trusted
from .sandbox import (NO_SANDBOX_WARNING, Sandbox, SandboxUnavailable, check_bwrap,
                      process_tree_cpu_seconds, remove_tree, sandbox_disabled)

__all__ = ["SandboxedExecute", "SandboxKernelManager", "cap_outputs", "grade_notebook", "instructor_test_cells",
           "sanitize_student_html", "trusted_cell_timeout"]

TRUNCATED = "[output truncated]"
# A course-provided cell whose source holds this mark (a picture, a "try it here" run on the course's
# data) is not run while grading: the sandbox has neither the data nor the answer key it uses. It
# shows one line instead of an error that would read like the student's fault. (A student who puts
# the mark in a cell of their own only skips that cell; test cells always run.)
NOT_GRADED_MARK = "# not run while grading"
NOT_GRADED_TEXT = "not run while grading (this cell uses the course's data or answer key, which the grader keeps)\n"


class SandboxKernelManager(AsyncKernelManager):
    """A kernel manager whose kernel process is started inside ``self.sandbox`` (ZeroMQ over ipc)."""

    sandbox = None

    def write_connection_file(self, **kwargs):
        """Write it as jupyter_client does; readable by the sandbox's user when that is not us."""
        super().write_connection_file(**kwargs)
        if self.sandbox.drop_root:  # the kernel runs as the sandbox's uid and must read its connection file
            os.chown(self.connection_file, self.sandbox.uid, self.sandbox.uid)

    def format_kernel_cmd(self, extra_arguments=None):
        """The kernel's argv, wrapped in the sandbox (interrupts as messages: signals do not reach inside)."""
        self.kernel_spec.interrupt_mode = "message"  # signals do not reach into the sandbox's session
        command = [sys.executable, "-m", "ipykernel_launcher", "-f", self.connection_file, *(extra_arguments or [])]
        return self.sandbox.wrap(command)


def _is_test_cell(cell):
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return cell.get("cell_type") == "code" and meta.get("grade") and not meta.get("solution")


def instructor_test_cells(resources, nb):
    """{grade_id: source} of the assignment's test cells, from the gradebook (the instructor's version).

    Without a gradebook in ``resources`` (direct use), the notebook's own test cells are taken.

    Args:
        resources (dict): nbgrader's resources (``resources["nbgrader"]``: db_url, assignment, notebook).
        nb (NotebookNode): the submission.

    Example:
        >>> import nbformat
        >>> test = nbformat.v4.new_code_cell("grading.check(f, g, [])", metadata={"nbgrader": {
        ...     "grade": True, "solution": False, "grade_id": "test_f", "points": 1}})
        >>> nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("def f(): pass"), test])
        >>> instructor_test_cells({}, nb)
        {'test_f': 'grading.check(f, g, [])'}
    """
    info = resources.get("nbgrader", {}) if isinstance(resources, dict) else {}
    if info.get("db_url") and info.get("assignment") and info.get("notebook"):
        from nbgrader.api import Gradebook

        with Gradebook(info["db_url"]) as gb:
            notebook = gb.find_notebook(info["notebook"], info["assignment"])
            return {cell.name: gb.find_source_cell(cell.name, info["notebook"], info["assignment"]).source
                    for cell in notebook.grade_cells if cell.cell_type == "code"}
    return {cell.metadata.nbgrader["grade_id"]: cell.source for cell in nb.cells if _is_test_cell(cell)}


def instructor_setup_cells(resources, nb):
    """Sources of the locked course-provided code cells (set-up cells), from the gradebook.

    A locked cell that is neither a test nor a solution is the course's own code: nbgrader restores
    its source from the gradebook, so what it imports is what the course hands the student
    (``static.handed_names``). Without a gradebook in ``resources``, the notebook's own cells are taken.

    Example:
        >>> import nbformat
        >>> setup = nbformat.v4.new_code_cell("from cnnlab.data import FASHION_MNIST_CLASSES", metadata={"nbgrader": {
        ...     "grade": False, "solution": False, "locked": True, "grade_id": "setup"}})
        >>> mine = nbformat.v4.new_code_cell("def f(): pass", metadata={"nbgrader": {
        ...     "grade": False, "solution": True, "locked": False, "grade_id": "f"}})
        >>> instructor_setup_cells({}, nbformat.v4.new_notebook(cells=[setup, mine]))
        ['from cnnlab.data import FASHION_MNIST_CLASSES']
    """
    info = resources.get("nbgrader", {}) if isinstance(resources, dict) else {}
    if info.get("db_url") and info.get("assignment") and info.get("notebook"):
        from nbgrader.api import Gradebook

        with Gradebook(info["db_url"]) as gb:
            notebook = gb.find_notebook(info["notebook"], info["assignment"])
            graded = {c.name for c in notebook.grade_cells + notebook.task_cells + notebook.solution_cells}
            return [cell.source for cell in notebook.source_cells
                    if cell.locked and cell.cell_type == "code" and cell.name not in graded]
    return [cell.source for cell in nb.cells if cell.cell_type == "code"
            and (meta := cell.get("metadata", {}).get("nbgrader", {})).get("locked")
            and not meta.get("grade") and not meta.get("solution")]


def trusted_cell_timeout(cell, test_sources, timeout_func, default):
    """Seconds a cell may run while grading: only an instructor's test cell may ask for more.

    A ``# cnnlab-timeout: N`` mark counts only in the source of a test cell *as the gradebook has
    it*: ``timeout_func`` (the course's ``cell_timeout``) sees that source, never the submitted
    one. Every other cell (the student's own) gets ``default``, whatever its source says.

    Args:
        cell (NotebookNode): the cell about to run.
        test_sources (dict): {grade_id: source} of the test cells, from the gradebook.
        timeout_func (callable or None): cell -> seconds, as nbclient's ``timeout_func``.
        default (int or None): the timeout of an ordinary cell.

    Returns:
        int or None: the seconds allowed.

    Example:
        >>> from nbformat import v4
        >>> marked = lambda cell: 600 if "cnnlab-timeout" in cell.source else 20
        >>> student = v4.new_code_cell("# cnnlab-timeout: 600\\ntrain()")
        >>> test = v4.new_code_cell("# cnnlab-timeout: 600", metadata={"nbgrader": {"grade_id": "test_t"}})
        >>> trusted_cell_timeout(student, {}, marked, 20), trusted_cell_timeout(test, {"test_t": "check()"}, marked, 20)
        (20, 20)
        >>> trusted_cell_timeout(test, {"test_t": "# cnnlab-timeout: 600"}, marked, 20)
        600
    """
    grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
    if timeout_func is None or cell.get("cell_type") != "code" or grade_id not in test_sources:
        return default
    trusted = NotebookNode(cell_type="code", source=test_sources[grade_id], metadata={}, outputs=[])
    return timeout_func(trusted)


def _output_size(output):
    return len(json.dumps(output, default=str))


def _cut_output(output, room):
    """``output`` cut to about ``room`` bytes (a stream keeps its first characters), marked TRUNCATED."""
    if output.get("output_type") == "stream" and isinstance(output.get("text"), str):
        return NotebookNode(output_type="stream", name=output.get("name", "stdout"),
                            text=output["text"][:max(room, 0)] + "\n" + TRUNCATED + "\n")
    return NotebookNode(output_type="stream", name="stdout",
                        text=f"{TRUNCATED} ({output.get('output_type', 'output')} of {_output_size(output):,} bytes)\n")


def cap_outputs(nb, cell_bytes=1_000_000, notebook_bytes=5_000_000):
    """Cap every code cell's outputs at ``cell_bytes`` and all of them at ``notebook_bytes`` (JSON bytes).

    nbgrader's ``LimitOutput`` counts lines, so one 30 MB line passes it. Here an output that does
    not fit is cut (a stream keeps its beginning) or replaced, with a visible ``[output truncated]``,
    and the outputs after it in that cell are dropped.

    Args:
        nb (NotebookNode): the executed notebook (changed in place).
        cell_bytes (int): most bytes of outputs per cell.
        notebook_bytes (int): most bytes of outputs in the whole notebook.

    Returns:
        NotebookNode: ``nb``.

    Example:
        >>> import nbformat
        >>> cell = nbformat.v4.new_code_cell("print('x' * 10**6)")
        >>> cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="x" * 10**6)]
        >>> text = cap_outputs(nbformat.v4.new_notebook(cells=[cell]), cell_bytes=100).cells[0].outputs[0].text
        >>> len(text) < 200, text.endswith("[output truncated]\\n")
        (True, True)
    """
    left = int(notebook_bytes)
    for cell in nb.cells:
        if cell.get("cell_type") != "code":
            continue
        room, kept = min(int(cell_bytes), left), []
        for output in cell.get("outputs", []):
            size = _output_size(output)
            if size <= room:
                kept.append(output)
                room -= size
                continue
            kept.append(_cut_output(output, room - 200))
            room = 0
            break
        cell.outputs = kept
        left -= sum(_output_size(o) for o in kept)
    return nb


def sanitize_student_html(nb):
    """Sanitize every output and markdown cell of ``nb`` (in place): no script of the submission survives.

    Formgrader renders the autograded notebook with ``sanitize_html=False`` from the Jupyter
    server's origin, and the feedback HTML is made from it, so a student's ``<script>``, an
    ``onerror=`` in an output or in the written answer would run with the instructor's session.
    nbconvert's ``SanitizeHTML`` (bleach) escapes the HTML of markdown cells and of ``text/html``
    and ``text/markdown`` outputs and drops JavaScript outputs; plain text, images and errors stay.
    The notebook's trust signature is not kept.

    Args:
        nb (NotebookNode): the executed, graded submission.

    Returns:
        NotebookNode: ``nb``.

    Example:
        >>> import nbformat
        >>> answer = nbformat.v4.new_markdown_cell('<img src=x onerror="alert(1)"> my answer')
        >>> "<img" in sanitize_student_html(nbformat.v4.new_notebook(cells=[answer])).cells[0].source
        False
    """
    from nbconvert.preprocessors.sanitize import SanitizeHTML

    nb, _ = SanitizeHTML().preprocess(nb, {})
    nb.metadata.pop("signature", None)
    return nb


def _data_requests(source):
    """(train, test) of every ``grading.fashion_mnist_tensors(train=..., test=...)`` in a test cell."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr == "fashion_mnist_tensors":
            values = {"train": 3000, "test": 1000}
            for kw in node.keywords:
                if isinstance(kw.value, ast.Constant) and kw.arg in values:
                    values[kw.arg] = int(kw.value.value)
            found.append((values["train"], values["test"]))
    return found


def _first_error(cell):
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            return f"{output.get('ename', '')}: {str(output.get('evalue', ''))[:300]}"
    return ""


def grade_notebook(nb, test_sources, records, allow_torch=False, cpu_seconds=None, sandbox_errors=None,
                   hidden_seeds=None, setup_cells=None):
    """The trusted verdict: replace the outputs of ``nb``'s test cells, computed without student code.

    Args:
        nb: the executed submission (its test cells' outputs are discarded).
        test_sources: {grade_id: source} of the test cells (from the gradebook).
        records: {grade_id: {k: record}} that the sandbox recorded for each test cell.
        allow_torch: a PyTorch exercise (07, 08): which modules count as shortcuts.
        cpu_seconds: the sandbox's CPU time since the training data went in (07), measured outside.
        sandbox_errors: {grade_id: "Error: message"} the kernel showed in that cell (for the message).
        hidden_seeds: {grade_id: {k: seed}} drawn for this submission (``hidden.draw_hidden_seeds``), the
            seeds the sandbox was handed; None: the preview seeds.
        setup_cells: sources of the course's locked set-up cells (:func:`instructor_setup_cells`);
            None: read from ``nb``.

    Returns:
        ``nb`` with trusted outputs in every test cell.

    Example:
        >>> import nbformat
        >>> import numpy as np
        >>> source = 'grading.check(relu, "cnnlab.reference.relu", [(np.array([-1.0, 2.0]),)])'
        >>> test = nbformat.v4.new_code_cell("print('all good')", metadata={"nbgrader": {"grade_id": "test_relu"}})
        >>> nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("def relu(x): ..."), test])
        >>> records = {"test_relu": {0: {"status": "ok", "value": np.array([0.0, 2.0])}}}
        >>> graded = grade_notebook(nb, {"test_relu": source}, records)
        >>> graded.cells[1].outputs[0].text
        'relu: all 1 cases match the answer key\\n'
        >>> grade_notebook(nb, {"test_relu": source}, {}).cells[1].outputs[0].ename
        'MismatchError'
    """
    forbidden = static.TORCH_FORBIDDEN if allow_torch else static.NUMPY_FORBIDDEN
    student_sources = [cell.source for cell in nb.cells if cell.cell_type == "code"
                       and cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") not in test_sources]
    setup = setup_cells if setup_cells is not None else instructor_setup_cells({}, nb)
    handed = static.handed_names(setup)  # the set-up cell's constants and loaders are not shortcuts
    tainted = {**static.forbidden_imports(student_sources, forbidden, handed),
               **static.forbidden_functions(student_sources, forbidden, handed)}
    grading = trusted.TrustedGrading(records, tainted, forbidden, cpu_seconds=cpu_seconds, hidden_seeds=hidden_seeds)
    namespace = trusted.trusted_namespace(grading, allow_torch)
    sandbox_errors = sandbox_errors or {}
    seen = set()
    for cell in nb.cells:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if cell.cell_type != "code" or grade_id not in test_sources or grade_id in seen:
            continue
        seen.add(grade_id)
        outputs = trusted.run_test_cell(test_sources[grade_id], namespace, grading, grade_id,
                                        sandbox_errors.get(grade_id, ""))
        cell.outputs = [NotebookNode(o) for o in outputs]
    return nb


class SandboxedExecute(Execute):
    """nbgrader's Execute, with the kernel inside the sandbox and the verdict computed outside."""

    sandbox = Bool(True, help="Run student code in the bubblewrap sandbox (False: --no-sandbox).").tag(config=True)
    memory_limit = Unicode("4G", help="Address-space limit of the sandboxed kernel.").tag(config=True)
    cpu_limit = Integer(1800, help="CPU seconds one submission's kernel may use (all threads).").tag(config=True)
    process_limit = Integer(1024, help="Processes and threads of the sandbox user.").tag(config=True)
    file_size_limit = Unicode("256M", help="Largest file the sandbox may write.").tag(config=True)
    submission_timeout = Integer(1800, help="Wall seconds per submission; later cells are skipped.").tag(config=True)
    torch_assignments = List(["07_*", "08_*"], help="Assignment ids (globs) that may use PyTorch.").tag(config=True)
    disk_limit = Unicode("1G", help="Size of the sandbox's scratch tmpfs: work, outbox, conn (as root).").tag(config=True)
    output_cell_bytes = Integer(1_000_000, help="Most bytes of outputs a cell keeps ([output truncated]).").tag(config=True)
    output_notebook_bytes = Integer(5_000_000, help="Most bytes of outputs a notebook keeps.").tag(config=True)
    secret_file = Unicode("", help="File of the secret the hidden seeds are drawn from (made once; "
                          "$CNNLAB_GRADING_SECRET wins).").tag(config=True)
    seeds_directory = Unicode("", help="Where the drawn hidden seeds are kept beside the grades.").tag(config=True)

    def _allow_torch(self, resources):
        assignment = resources.get("nbgrader", {}).get("assignment", "") or ""
        return any(fnmatch.fnmatch(assignment, pattern) for pattern in self.torch_assignments)

    def create_kernel_manager(self):
        """nbclient's kernel manager, bound to this submission's sandbox (ZeroMQ over unix sockets in it)."""
        km = super().create_kernel_manager()
        km.sandbox = self._box
        km.transport = "ipc"
        km.ip = os.path.join(self._box.conn, "kernel")
        km.connection_file = self._box.connection_file
        return km

    def preprocess(self, nb, resources=None, km=None):
        """Run ``nb`` in a fresh sandbox, then replace its test cells' outputs by the trusted verdict.

        Stops the whole run (SystemExit) when bubblewrap is unavailable, unless the sandbox is
        switched off (``sandbox = False`` or ``CNNLAB_NO_SANDBOX=1``), which it warns about.

        Args:
            nb (NotebookNode): the submission.
            resources (dict): nbgrader's resources (gradebook URL, assignment, notebook, path).
            km: a kernel manager (nbclient's argument; a sandboxed one is made when None).

        Returns:
            tuple: ``(nb, resources)``, as nbgrader's preprocessors do.
        """
        enabled = self.sandbox and not sandbox_disabled()
        if not enabled:
            print(NO_SANDBOX_WARNING, file=sys.stderr, flush=True)
            self.log.warning(NO_SANDBOX_WARNING)
        else:
            try:
                check_bwrap()
            except SandboxUnavailable as error:  # stop the whole run: never grade unprotected by accident
                self.log.error(str(error))
                raise SystemExit(f"grading stopped: {error}") from None
        resources = resources or {}
        allow_torch = self._allow_torch(resources)
        self.kernel_manager_class = SandboxKernelManager
        self._test_sources = instructor_test_cells(resources, nb)
        self._hidden_seeds = self._draw_hidden_seeds(nb, resources)
        self._records, self._sandbox_errors, self._cpu_start, self._cpu_end = {}, {}, None, None
        self._started = time.monotonic()
        with Sandbox(allow_torch=allow_torch, memory=self.memory_limit, cpu_seconds=self.cpu_limit,
                     processes=self.process_limit, file_size=self.file_size_limit, enabled=enabled,
                     disk=self.disk_limit) as box:
            self._box = box
            box.copy_into_work(resources.get("metadata", {}).get("path"))
            self._trusted_store = os.path.join(box.scratch, "..", os.path.basename(box.scratch) + "-records")
            self._trusted_store = os.path.abspath(self._trusted_store)
            try:
                nb, resources = super().preprocess(nb, resources, km=km)
            finally:
                budget = boundary.LoadBudget(boundary.SUBMISSION_BYTES)  # shared by all test cells
                records = {gid: boundary.read_records(os.path.join(self._trusted_store, gid), budget)
                           for gid in self._test_sources}
                remove_tree(self._trusted_store)
        nb = cap_outputs(nb, self.output_cell_bytes, self.output_notebook_bytes)
        cpu = None if self._cpu_start is None or self._cpu_end is None else self._cpu_end - self._cpu_start
        nb = grade_notebook(nb, self._test_sources, records, allow_torch=allow_torch, cpu_seconds=cpu,
                            sandbox_errors=self._sandbox_errors, hidden_seeds=self._hidden_seeds,
                            setup_cells=instructor_setup_cells(resources, nb))
        nb = sanitize_student_html(nb)  # before formgrader and the feedback see it
        return nb, resources

    def _draw_hidden_seeds(self, nb, resources):
        """{grade_id: {k: seed}} of this submission, drawn from the secret and kept beside the grade."""
        info = resources.get("nbgrader", {})
        identity = tuple(str(info.get(key) or "-") for key in ("assignment", "notebook", "student"))
        digest = hidden.submission_digest(nb)
        seeds = hidden.draw_hidden_seeds(hidden.grading_secret(self.secret_file), identity, digest,
                                         self._test_sources)
        if seeds and self.seeds_directory and "-" not in identity:
            hidden.save_hidden_seeds(self.seeds_directory, identity, digest, seeds)
        return seeds

    def _hand_in_hidden_seeds(self, grade_id):
        """This cell's drawn seeds into the inbox (replacing the last cell's): {k: seed} as JSON."""
        cell_seeds = {str(k): seed for k, seed in self._hidden_seeds.get(grade_id, {}).items()}
        path = os.path.join(self._box.inbox, boundary.HIDDEN_SEEDS_FILE)
        temporary = path + ".tmp"
        with open(temporary, "w", encoding="utf-8") as f:
            json.dump(cell_seeds, f)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)

    def _cell_timeout(self, cell):
        """nbclient's ``timeout_func`` while grading: marks count in the gradebook's test cells only."""
        return trusted_cell_timeout(cell, self._test_sources, self._marked_timeout, self.timeout)

    def _cpu_now(self):
        """CPU seconds of the whole sandbox: its cgroup's counter, or the kernel's process tree in /proc."""
        used = self._box.cpu_seconds_used()
        if used is not None:
            return used
        process = getattr(getattr(self.km, "provisioner", None), "process", None)
        return process_tree_cpu_seconds(process.pid) if process is not None else None

    async def async_execute_cell(self, cell, cell_index, execution_count=None, store_history=True):
        # nbconvert's preprocess re-initialises this object from the config (NotebookClient.__init__),
        # so the course's timeout_func is wrapped here, right before nbclient asks it about a cell.
        if getattr(self.timeout_func, "__func__", None) is not SandboxedExecute._cell_timeout:
            self._marked_timeout, self.timeout_func = self.timeout_func, self._cell_timeout
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        is_test = cell.get("cell_type") == "code" and grade_id in self._test_sources
        if cell.get("cell_type") == "code" and not is_test and NOT_GRADED_MARK in cell.get("source", ""):
            cell.outputs = [NotebookNode(output_type="stream", name="stdout", text=NOT_GRADED_TEXT)]
            return cell
        if cell.get("cell_type") == "code" and time.monotonic() - self._started > self.submission_timeout:
            cell.outputs = [NotebookNode(output_type="error", ename="SubmissionTimeoutError",
                                         evalue=f"the submission ran longer than {self.submission_timeout} s",
                                         traceback=[])]
            return cell
        if is_test:
            self._box.clear_outbox()
            self._hand_in_hidden_seeds(grade_id)
            requests = _data_requests(self._test_sources[grade_id])
            for train, test in requests:
                self._hand_in_fashion_mnist(train, test)
            if requests and self._cpu_start is None:
                self._cpu_start = self._cpu_now()
        try:
            return await super().async_execute_cell(cell, cell_index, execution_count, store_history)
        finally:
            if self._cpu_start is not None:  # CPU since the data went in, up to the end of the last cell run (training deferred to later cells counts)
                self._cpu_end = self._cpu_now()
            if is_test:
                self._box.take_outbox(os.path.join(self._trusted_store, grade_id))
                self._sandbox_errors[grade_id] = _first_error(cell)

    execute_cell = run_sync(async_execute_cell)  # nbclient binds the sync name to its own coroutine

    def _hand_in_fashion_mnist(self, train, test):
        """Training images and labels and the held-out *images* (no labels) into the inbox."""
        import numpy as np

        folder = os.path.join(self._box.inbox, f"fashion_mnist_{train}_{test}")
        if os.path.isdir(folder):
            return
        x_train, y_train, x_test, _ = keys.fashion_mnist_tensors(train=train, test=test)
        os.makedirs(folder)
        for name, tensor in (("x_train", x_train), ("y_train", y_train), ("x_test", x_test)):
            np.save(os.path.join(folder, name + ".npy"), tensor.numpy(), allow_pickle=False)
        for name in os.listdir(folder):
            os.chmod(os.path.join(folder, name), 0o644)
        os.chmod(folder, 0o755)
