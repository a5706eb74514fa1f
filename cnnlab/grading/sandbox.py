"""The jail student code runs in: a Jupyter kernel started inside bubblewrap (``bwrap``).

What the kernel sees (everything else of the machine is absent):

- a read-only system (``/usr``, a few files of ``/etc``), the Python installation and the course's
  virtual environment, read-only. For the NumPy exercises the site-packages of PyTorch, SciPy,
  scikit-image, scikit-learn, ... are covered by empty directories: they are not there to import.
  The Fashion-MNIST files (``/usr/share/datasets``) are covered too: no held-out labels.
- its own ``HOME`` and ``/tmp`` (small tmpfs), its own ``/proc`` and ``/dev``;
- a private scratch directory: the working directory, an *outbox* it writes its results to, a
  read-only *inbox* the grader hands data in through, the kernel's connection sockets (ZeroMQ over
  unix sockets: the sandbox has no network at all) and a generated student-side ``cnnlab``
  package that holds no answer key (``cnnlab.grading.record`` and placeholders).

It never sees the course directory: no ``solutions/``, ``submitted/``, ``gradebook.db`` or
``cnnlab/`` sources. It has its own network, PID, IPC and UTS namespaces, dies with its parent,
runs in a new session and, when the grader runs as root, as a uid of its own from a pool (not shared
with any other sandbox, so its process limit is its own) without
capabilities. Limits (``prlimit``): address space (default 4 GiB), CPU seconds, processes, file size.
"""

import fcntl
import functools
import glob
import os
import shutil
import stat
import subprocess
import sys
import tempfile

__all__ = ["SandboxUnavailable", "Sandbox", "check_bwrap", "sandbox_disabled", "remove_tree", "copy_plain_files",
           "NO_SANDBOX_WARNING"]

INSTALL_HINT = "apt-get install bubblewrap"
NO_SANDBOX_WARNING = ("WARNING: grading WITHOUT the sandbox (--no-sandbox / CNNLAB_NO_SANDBOX=1): student code "
                      "runs with your rights and can read the solutions, the gradebook and the other submissions, "
                      "and write anywhere you can. Only for trusted notebooks (your own solutions).")
# As root, each concurrent sandbox runs as its own uid from this pool (not `nobody`, which all would
# share): RLIMIT_NPROC counts a uid's processes machine-wide, so a pool uid's limit is the sandbox's own.
UID_POOL_START = 1_900_000
UID_POOL_SIZE = 4096
OUTBOX_BYTES = 256 * 2**20  # what the trusted side copies out of the outbox per test cell
# Packages a NumPy exercise may not use: absent inside its sandbox (PIL stays: matplotlib needs it;
# the static check of the source flags it).
HIDDEN_FOR_NUMPY = ("torch", "torchgen", "torchvision", "functorch", "scipy", "scipy.libs", "skimage", "sklearn",
                    "scikit_learn.libs", "cv2", "tensorflow", "jax", "jaxlib", "nvidia", "triton")
# In a PyTorch exercise torch stays, but the libraries that would do the exercise for the student go
# (the static check flags them in the source; absence also stops "sk" + "learn").
HIDDEN_FOR_TORCH = ("torchvision", "timm", "lightning", "pytorch_lightning", "skorch", "sklearn", "scikit_learn.libs")
STUDENT_SIDE_MODULES = ("record.py", "boundary.py", "cases.py", "compare.py", "static.py", "model_spec.py")
ANSWER_KEY_MODULES = ("reference", "torchops", "gradcheck", "checks", "models", "data", "train", "augment",
                      "numpy_net", "visualize", "course")
# Plain data a locked set-up cell hands the student (``static.handed_names``), copied into the
# placeholder module: it holds no answer, and ``len(FASHION_MNIST_CLASSES)`` must work while grading.
HANDED_CONSTANTS = {"data": ("FASHION_MNIST_CLASSES",)}


class SandboxUnavailable(RuntimeError):
    """bubblewrap is missing or cannot create its namespaces here."""


def sandbox_disabled():
    """True when the environment asks for grading without the sandbox (``CNNLAB_NO_SANDBOX=1``, "true" or "yes")."""
    return os.environ.get("CNNLAB_NO_SANDBOX", "").strip().lower() in ("1", "true", "yes")


@functools.lru_cache(maxsize=None)
def check_bwrap():
    """Path of ``bwrap`` after a trial run (once per process); raises :class:`SandboxUnavailable` saying what to
    install, or what to allow, when bubblewrap is missing or cannot create its namespaces."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise SandboxUnavailable(f"bubblewrap (bwrap) is not installed: {INSTALL_HINT} (grading refuses to run "
                                 "student code unprotected; --no-sandbox overrides, for trusted notebooks only)")
    trial = [bwrap, *_namespace_flags(), "--ro-bind", "/usr", "/usr", *_root_links(), "--proc", "/proc",
             "--dev", "/dev", "true"]
    result = subprocess.run(trial, capture_output=True, text=True)
    if result.returncode != 0:
        raise SandboxUnavailable(
            f"bubblewrap cannot create its namespaces here ({result.stderr.strip() or result.returncode}). "
            f"Install it with `{INSTALL_HINT}` and allow user namespaces (sysctl kernel.unprivileged_userns_clone=1 "
            "or run the grader as root); --no-sandbox overrides, for trusted notebooks only.")
    return bwrap


def _namespace_flags():
    flags = ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try"]
    if os.geteuid() != 0:
        flags.insert(0, "--unshare-user")
    return flags


def _root_links():
    """/bin, /lib, ... as on the host: symlinks into /usr (merged /usr) or read-only binds."""
    args = []
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = "/" + name
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    return args


def parse_size(text):
    """'4G', '512M', '1024' -> bytes (binary units; a trailing B or iB is allowed).

    Example:
        >>> parse_size("4G"), parse_size("512MiB"), parse_size(1024)
        (4294967296, 536870912, 1024)
    """
    text = str(text).strip().upper().removesuffix("B").removesuffix("I")
    factor = {"K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}.get(text[-1:], 1)
    return int(float(text[:-1] if factor > 1 else text) * factor)


def process_tree_cpu_seconds(root_pid):
    """CPU seconds (user + system, also of reaped children) of ``root_pid`` and all its descendants.

    Read from /proc outside the sandbox: nothing the student's code does inside can change it.

    Args:
        root_pid (int): the process (the kernel's launcher) whose tree is counted.

    Example:
        >>> process_tree_cpu_seconds(os.getpid()) > 0  # this Python has used some CPU time
        True
    """
    ticks = os.sysconf("SC_CLK_TCK")
    parents, times = {}, {}
    for stat_path in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(stat_path) as f:
                text = f.read()
        except OSError:
            continue
        pid = int(stat_path.split("/")[2])
        fields = text[text.rindex(")") + 2 :].split()
        parents[pid] = int(fields[1])
        times[pid] = sum(int(v) for v in fields[11:15])  # utime stime cutime cstime
    total, stack, seen = 0, [root_pid], set()
    while stack:
        pid = stack.pop()
        if pid in seen:
            continue
        seen.add(pid)
        total += times.get(pid, 0)
        stack += [child for child, parent in parents.items() if parent == pid]
    return total / ticks


_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


def remove_tree(path):
    """Remove ``path`` and everything under it, however deep, without recursion and without following links.

    ``shutil.rmtree`` recurses once per level (a 1,500-deep tree made by a submission raises
    ``RecursionError``) and builds ever longer paths. This walks down and up again with one open
    directory at a time (``openat``, ``unlinkat``): no recursion, no long paths, no file descriptor
    per level. What cannot be removed is left and the walk goes on; it never raises.

    Args:
        path (str): a folder (or a file or link, which is unlinked).

    Returns:
        bool: True when ``path`` is gone.

    Example:
        >>> import tempfile
        >>> top = tempfile.mkdtemp()
        >>> os.makedirs(os.path.join(top, *["d"] * 50))
        >>> remove_tree(top), os.path.exists(top)
        (True, False)
    """
    try:
        fd = os.open(path, _DIR_FLAGS)
    except FileNotFoundError:
        return True
    except OSError:  # a file or a symlink: unlink it, never follow it
        try:
            os.unlink(path)
        except OSError:
            pass
        return not os.path.lexists(path)
    names, failed = [], set()
    while True:
        descended = False
        try:
            entries = list(os.scandir(fd))
        except OSError:
            entries = []
        for entry in entries:
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
                key = entry.inode()
            except OSError:
                continue
            if key in failed:
                continue
            if not is_dir:
                try:
                    os.unlink(entry.name, dir_fd=fd)
                except OSError:
                    failed.add(key)
                continue
            try:
                child = os.open(entry.name, _DIR_FLAGS, dir_fd=fd)
            except OSError:
                failed.add(key)
                continue
            try:
                os.fchmod(child, 0o700)  # a folder the submission made unwritable
            except OSError:
                pass
            os.close(fd)
            fd, descended = child, True
            names.append(entry.name)
            break
        if descended:
            continue
        if not names:
            os.close(fd)
            break
        inode = os.fstat(fd).st_ino
        try:
            parent = os.open("..", _DIR_FLAGS, dir_fd=fd)
        except OSError:
            os.close(fd)
            break
        os.close(fd)
        fd, name = parent, names.pop()
        try:
            os.rmdir(name, dir_fd=fd)
        except OSError:
            failed.add(inode)
    try:
        os.rmdir(path)
    except OSError:
        pass
    return not os.path.lexists(path)


def copy_plain_files(source, destination, max_bytes):
    """Copy the regular files directly in ``source`` into ``destination``, through file descriptors.

    Every entry is opened with ``O_NOFOLLOW | O_NONBLOCK`` relative to ``source``'s descriptor and
    checked with ``fstat`` to be a regular file before a byte is read: a symlink, a FIFO, a device
    or a folder (even one that replaced a file a moment ago) is skipped, never followed, and a
    FIFO cannot block. At most ``max_bytes`` are copied in all; what does not fit is left out.

    Args:
        source (str): a folder the sandbox can write to (the outbox).
        destination (str): trusted storage (created).
        max_bytes (int): the byte budget of this copy.

    Returns:
        list of str: the names copied.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
        ...     _ = open(os.path.join(a, "0.json"), "w").write("{}")
        ...     os.symlink("/etc/passwd", os.path.join(a, "1.json"))
        ...     os.mkfifo(os.path.join(a, "2.json"))
        ...     copy_plain_files(a, os.path.join(b, "store"), 1000)
        ['0.json']
    """
    os.makedirs(destination, exist_ok=True)
    copied, left = [], int(max_bytes)
    try:
        folder = os.open(source, _DIR_FLAGS)
    except OSError:
        return copied
    try:
        for name in sorted(os.listdir(folder)):
            if "/" in name or name in (".", ".."):
                continue
            try:
                fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0),
                             dir_fd=folder)
            except OSError:
                continue
            try:
                info = os.fstat(fd)
                if not stat.S_ISREG(info.st_mode) or info.st_size > left:
                    continue
                with os.fdopen(os.dup(fd), "rb") as src:
                    data = src.read(left + 1)
                if len(data) > left:  # it grew while we read it
                    continue
                left -= len(data)
                out = os.open(os.path.join(destination, name), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(out, "wb") as dst:
                    dst.write(data)
                copied.append(name)
            except OSError:
                continue
            finally:
                os.close(fd)
    finally:
        os.close(folder)
    return copied


class Sandbox:
    """One submission's sandbox: a scratch directory and the ``bwrap`` command that jails a kernel.

    Args:
        allow_torch: keep PyTorch importable (exercises 07, 08); otherwise it is absent.
        memory: address-space limit of the kernel ("4G").
        cpu_seconds: CPU-time limit of the kernel process (all threads), per submission.
        processes: process (and thread) limit of the sandbox's user, a uid of its own (``self.uid``,
            from a pool) when the grader runs as root, so no other sandbox can use it up.
        file_size: largest file the sandbox may write.
        enabled: False runs the kernel without bwrap (``--no-sandbox``), same scratch layout.
        tmpfs_size: size of the sandbox's own ``/tmp`` and ``/home`` (each a tmpfs).
        disk: total size of the scratch directory (``work/``, ``outbox/``, ``conn/``, ``inbox/``):
            a tmpfs of that size when the grader runs as root (``self.mounted``); otherwise only
            ``file_size`` limits what it writes.
        outbox_bytes: most bytes :meth:`take_outbox` copies out per test cell.

    A kernel is started with ``box.wrap([sys.executable, "-m", "ipykernel_launcher", "-f",
    box.connection_file])``; the scratch directory goes when the ``with`` block ends.

    Example:
        >>> with Sandbox(enabled=False, memory="1G") as box:
        ...     command = box.wrap(["python", "-c", "print(1)"])
        ...     print(sorted(os.listdir(box.scratch)))
        ['absent', 'conn', 'group', 'home', 'inbox', 'outbox', 'package', 'passwd', 'work']
        >>> command[:2], "--as=1073741824" in command, command[-3:], os.path.exists(box.scratch)
        (['/usr/bin/env', '-i'], True, ['python', '-c', 'print(1)'], False)
    """

    def __init__(self, allow_torch=False, memory="4G", cpu_seconds=1800, processes=1024, file_size="256M",
                 enabled=True, tmpfs_size="512M", disk="1G", outbox_bytes=OUTBOX_BYTES):
        self.allow_torch = allow_torch
        self.disk = parse_size(disk)
        self.outbox_bytes = int(outbox_bytes)
        self.memory = parse_size(memory)
        self.cpu_seconds = int(cpu_seconds)
        self.processes = int(processes)
        self.file_size = parse_size(file_size)
        self.tmpfs_size = parse_size(tmpfs_size)
        self.enabled = enabled
        self.bwrap = check_bwrap() if enabled else None
        self.scratch = tempfile.mkdtemp(prefix="cnnlab-sandbox-")
        os.chmod(self.scratch, 0o755)
        # As root, the whole scratch directory (work, outbox, conn, inbox) is a tmpfs of `disk` bytes:
        # a submission cannot fill the host's disk, and everything goes with one umount.
        self.mounted = enabled and os.geteuid() == 0 and _mount_tmpfs(self.scratch, self.disk)
        self.work, self.outbox, self.inbox, self.conn, self.package = (
            os.path.join(self.scratch, d) for d in ("work", "outbox", "inbox", "conn", "package"))
        for folder in (self.work, self.outbox, self.inbox, self.conn, self.package):
            os.makedirs(folder)
            os.chmod(folder, 0o755)
        self.drop_root = enabled and os.geteuid() == 0
        self.cgroups = _make_cgroups(os.path.basename(self.scratch), self.processes) if self.drop_root else {}
        self.uid, self._uid_lock = (_claim_uid() if self.drop_root else (os.getuid(), None))
        if self.drop_root:
            for folder in (self.work, self.outbox, self.conn):
                os.chown(folder, self.uid, self.uid)
        self.connection_file = os.path.join(self.conn, "kernel.json")
        self.home = "/home/student" if enabled else os.path.join(self.scratch, "home")
        os.makedirs(os.path.join(self.scratch, "home"), exist_ok=True)
        build_student_package(self.package)
        os.makedirs(os.path.join(self.scratch, "absent"))
        with open(os.path.join(self.scratch, "absent", "__init__.py"), "w") as f:
            f.write('raise ImportError("this package is not available in this exercise: write it yourself with NumPy")\n')
        uid = self.uid
        with open(os.path.join(self.scratch, "passwd"), "w") as f:
            f.write(f"student:x:{uid}:{uid}:student:{self.home}:/bin/sh\n")
        with open(os.path.join(self.scratch, "group"), "w") as f:
            f.write(f"student:x:{uid}:\n")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        """Remove the scratch directory (the sandbox's files, the outbox, the kernel's sockets); never raises.

        The tmpfs (as root) is unmounted, so its files vanish however they are nested; otherwise
        :func:`remove_tree` removes them without recursion.
        """
        try:
            self._remove_cgroups()
            self._unmount()
        finally:
            remove_tree(self.scratch)
            if self._uid_lock is not None:  # the uid goes back to the pool
                os.close(self._uid_lock)
                self._uid_lock = None

    def cpu_seconds_used(self):
        """CPU seconds used by everything that ever ran in this sandbox, from its cgroup; None without one.

        Unlike ``/proc``'s ``cutime``, a cgroup's counter keeps the time of children nobody waited
        for (a parent that ignores ``SIGCHLD``), and no process inside can leave the cgroup.

        Returns:
            float or None: seconds.
        """
        try:
            if "cpu.stat" in self.cgroups:
                with open(self.cgroups["cpu.stat"]) as f:
                    fields = dict(line.split() for line in f if line.strip())
                return int(fields["usage_usec"]) / 1e6
            if "cpuacct" in self.cgroups:
                with open(os.path.join(self.cgroups["cpuacct"], "cpuacct.usage")) as f:
                    return int(f.read()) / 1e9
        except (OSError, KeyError, ValueError):
            return None
        return None

    def _remove_cgroups(self):
        for folder in set(v for k, v in self.cgroups.items() if k != "cpu.stat"):
            for _ in range(50):
                try:
                    with open(os.path.join(folder, "cgroup.procs")) as f:
                        pids = [int(p) for p in f.read().split()]
                    for pid in pids:  # what is left of the sandbox (it died with its parent already, normally)
                        try:
                            os.kill(pid, 9)
                        except OSError:
                            pass
                    os.rmdir(folder)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    import time

                    time.sleep(0.02)
        self.cgroups = {}

    def _unmount(self):
        if self.mounted:
            for lazy in ([], ["-l"]):
                if subprocess.run(["umount", *lazy, self.scratch], capture_output=True).returncode == 0:
                    self.mounted = False
                    break

    def copy_into_work(self, folder, max_bytes=20_000_000):
        """Copy the submission's other files (not notebooks) into the working directory."""
        if not folder or not os.path.isdir(folder):
            return
        for name in os.listdir(folder):
            path = os.path.join(folder, name)
            if os.path.isfile(path) and not os.path.islink(path) and not name.endswith(".ipynb") \
                    and os.path.getsize(path) <= max_bytes:
                shutil.copy(path, os.path.join(self.work, name))
                if self.drop_root:
                    os.chown(os.path.join(self.work, name), self.uid, self.uid)

    def environment(self):
        """The kernel's whole environment: nothing of the grader's own variables gets in."""
        return {
            "HOME": self.home, "PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "TMPDIR": "/tmp",
            "PYTHONPATH": self.package, "PYTHONNOUSERSITE": "1", "PYTHONDONTWRITEBYTECODE": "1",
            "MPLBACKEND": "agg", "CNNLAB_DEVICE": "cpu", "CNNLAB_OUTBOX": self.outbox, "CNNLAB_INBOX": self.inbox,
            "CNNLAB_GRADING_SANDBOX": "1" if self.enabled else "0",
        }

    def limits(self, processes=True):
        """prlimit's argv: memory, CPU seconds, processes (the sandbox user's), file size, no core dumps."""
        return ["prlimit", f"--as={self.memory}", f"--cpu={self.cpu_seconds}",
                *([f"--nproc={self.processes}"] if processes else []), f"--fsize={self.file_size}", "--core=0", "--"]

    def wrap(self, command):
        """The argv that runs ``command`` (a kernel) inside this sandbox, with its limits."""
        env = self.environment()
        if not self.enabled:
            # no process limit here: it would count every process of the grader's own user
            return ["/usr/bin/env", "-i", f"--chdir={self.work}", *(f"{k}={v}" for k, v in env.items()),
                    *self.limits(processes=False), *command]
        args = [self.bwrap, *_namespace_flags(), "--die-with-parent", "--new-session", "--clearenv"]
        for key, value in env.items():
            args += ["--setenv", key, value]
        args += ["--ro-bind", "/usr", "/usr", *_root_links()]
        for path in ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/alternatives",
                     "/etc/localtime", "/etc/nsswitch.conf", "/etc/fonts", "/etc/mime.types"):
            args += ["--ro-bind-try", path, path]
        args += ["--ro-bind", os.path.join(self.scratch, "passwd"), "/etc/passwd",
                 "--ro-bind", os.path.join(self.scratch, "group"), "/etc/group"]
        args += ["--proc", "/proc", "--dev", "/dev"]
        args += ["--size", str(self.tmpfs_size), "--perms", "1777", "--tmpfs", "/tmp"]
        args += ["--size", str(self.tmpfs_size), "--perms", "0755", "--tmpfs", "/home"]
        made = {"/", "/usr", "/tmp", "/home", "/proc", "/dev", "/etc"}

        def parents(path):
            out = []
            parts = os.path.dirname(path).strip("/").split("/")
            for i in range(1, len(parts) + 1):
                folder = "/" + "/".join(parts[:i])
                if folder not in made and not folder.startswith("/usr/"):
                    made.add(folder)
                    out += ["--perms", "0755", "--dir", folder]
            return out

        args += parents(self.home + "/x") + ["--perms", "0755", "--dir", self.home]
        if self.drop_root:
            args += ["--chmod", "0777", self.home]
        for prefix in sorted({os.path.realpath(sys.base_prefix), os.path.realpath(sys.prefix), sys.prefix}):
            if not prefix.startswith("/usr"):
                args += parents(prefix) + ["--ro-bind", prefix, prefix]
                made.add(prefix)
        for site in _site_packages():
            for name in (HIDDEN_FOR_TORCH if self.allow_torch else HIDDEN_FOR_NUMPY):
                path = os.path.join(site, name)
                if os.path.isfile(os.path.join(path, "__init__.py")):  # a package: importing it raises
                    args += ["--ro-bind", os.path.join(self.scratch, "absent"), path]
                elif os.path.isdir(path):  # shared libraries: gone
                    args += ["--tmpfs", path]
        if os.path.isdir("/usr/share/datasets"):
            args += ["--tmpfs", "/usr/share/datasets"]
        for folder, mode in ((self.work, "--bind"), (self.outbox, "--bind"), (self.conn, "--bind"),
                             (self.inbox, "--ro-bind"), (self.package, "--ro-bind")):
            args += parents(folder) + [mode, folder, folder]
        args += ["--chdir", self.work]
        if self.drop_root:
            args += ["--cap-add", "CAP_SETUID,CAP_SETGID", "--", "setpriv", f"--reuid={self.uid}", f"--regid={self.uid}",
                     "--clear-groups", "--inh-caps=-all", "--bounding-set=-all"]
        else:
            args += ["--"]
        # With a uid of its own (root), RLIMIT_NPROC is this sandbox's alone; otherwise it would
        # count the grader's user. A cgroup's pids.max (when there is one) limits the same.
        return self._join_cgroups() + args + self.limits() + list(command)

    def _join_cgroups(self):
        """argv prefix: a shell that moves itself into this sandbox's cgroups, then execs the rest."""
        procs = [os.path.join(v, "cgroup.procs") for k, v in self.cgroups.items() if k != "cpu.stat"]
        if not procs:
            return []
        script = 'for f; do [ "$f" = -- ] && break; echo $$ > "$f" || exit 125; done; shift ' + str(len(procs) + 1) \
            + '; exec "$@"'
        return ["/bin/sh", "-c", script, "sh", *sorted(set(procs)), "--"]

    def clear_outbox(self):
        """Remove everything in the outbox (before a test cell runs, so that its records are its own)."""
        for name in os.listdir(self.outbox):
            path = os.path.join(self.outbox, name)
            if os.path.isdir(path) and not os.path.islink(path):
                remove_tree(path)
            else:
                try:
                    os.unlink(path)
                except OSError:
                    pass

    def take_outbox(self, destination):
        """Copy what the sandbox wrote since the last clear into ``destination`` (trusted storage), then clear it.

        Regular files only, read through descriptors opened with ``O_NOFOLLOW | O_NONBLOCK`` and
        checked with ``fstat`` (:func:`copy_plain_files`): a record the sandbox turns into a symlink
        or a FIFO meanwhile is skipped, never followed. At most ``outbox_bytes`` per test cell.
        """
        copy_plain_files(self.outbox, destination, self.outbox_bytes)
        self.clear_outbox()


def _claim_uid():
    """(uid, lock fd) of a free uid of the pool: an flock on its file, held until the sandbox closes.

    The lock goes with the process that holds it (a grader that dies frees its uid). Processes
    left by an earlier sandbox of that uid cannot be there: each sandbox has its own PID namespace
    and dies with its grader.
    """
    folder = os.path.join(tempfile.gettempdir(), "cnnlab-uid-pool")
    os.makedirs(folder, mode=0o700, exist_ok=True)
    start = os.getpid() % UID_POOL_SIZE  # concurrent graders start at different places
    for i in range(UID_POOL_SIZE):
        uid = UID_POOL_START + (start + i) % UID_POOL_SIZE
        fd = os.open(os.path.join(folder, str(uid)), os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        return uid, fd
    raise SandboxUnavailable(f"all {UID_POOL_SIZE} sandbox uids are in use")


CGROUP_ROOT = "/sys/fs/cgroup"


def _make_cgroups(name, processes):
    """{"cpuacct" | "pids" | "v2": folder, "cpu.stat": file} of new cgroups for one sandbox (root only).

    cgroup v2 (one folder: ``cpu.stat``, ``pids.max``) when the host has it, else v1's ``cpuacct``
    and ``pids`` hierarchies; {} when neither can be made (CPU time then comes from ``/proc``).
    """
    made = {}
    try:
        if os.path.exists(os.path.join(CGROUP_ROOT, "cgroup.controllers")):
            folder = os.path.join(CGROUP_ROOT, "cnnlab-" + name)
            os.mkdir(folder)
            made["v2"], made["cpu.stat"] = folder, os.path.join(folder, "cpu.stat")
            try:
                with open(os.path.join(folder, "pids.max"), "w") as f:
                    f.write(str(int(processes)))
            except OSError:
                pass
            return made
        for controller in ("cpuacct", "pids"):
            base = os.path.join(CGROUP_ROOT, controller)
            if os.path.isdir(base):
                folder = os.path.join(base, "cnnlab-" + name)
                os.mkdir(folder)
                made[controller] = folder
        if "pids" in made:
            with open(os.path.join(made["pids"], "pids.max"), "w") as f:
                f.write(str(int(processes)))
    except OSError:
        pass
    return made


def _mount_tmpfs(folder, size):
    """Mount a tmpfs of ``size`` bytes on ``folder`` (root only); False when the kernel refuses."""
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={int(size)},mode=0755,nosuid,nodev",
                             "cnnlab-sandbox", folder], capture_output=True)
    return result.returncode == 0


def _site_packages():
    found = []
    for prefix in {sys.prefix, sys.base_prefix}:
        found += glob.glob(os.path.join(prefix, "lib", "python3*", "site-packages"))
    return sorted(set(found))


def build_student_package(target):
    """Write the student-side ``cnnlab`` package into ``target``: grading records, the rest is absent.

    ``cnnlab.grading`` holds copies of ``STUDENT_SIDE_MODULES`` and imports ``record``; every
    module of ``ANSWER_KEY_MODULES`` is a placeholder whose functions raise ``AnswerKeyUnavailable``.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as target:
        ...     build_student_package(target)
        ...     print(sorted(os.listdir(os.path.join(target, "cnnlab", "grading"))))
        ['__init__.py', 'boundary.py', 'cases.py', 'compare.py', 'model_spec.py', 'record.py', 'static.py']
    """
    here = os.path.dirname(os.path.abspath(__file__))
    package = os.path.join(target, "cnnlab")
    grading = os.path.join(package, "grading")
    os.makedirs(grading)
    for name in STUDENT_SIDE_MODULES:
        shutil.copy(os.path.join(here, name), os.path.join(grading, name))
    with open(os.path.join(grading, "__init__.py"), "w") as f:
        f.write('"""Inside the grading sandbox: the recording side of cnnlab.grading (no answer key)."""\n'
                "from .record import *  # noqa: F401,F403\nfrom .record import __all__, AnswerKeyUnavailable  # noqa: F401\n")
    with open(os.path.join(package, "__init__.py"), "w") as f:
        f.write('"""cnnlab inside the grading sandbox: only cnnlab.grading is here; the answer key is not."""\n'
                "__version__ = '0.1.0'\n\n\ndef device():\n    return 'cpu'\n\n\ndef seed_everything(seed=0):\n"
                "    import random\n\n    import numpy as np\n\n    random.seed(seed)\n    np.random.seed(seed)\n")
    for module in ANSWER_KEY_MODULES:
        with open(os.path.join(package, module + ".py"), "w") as f:
            f.write(_PLACEHOLDER_MODULE.format(module=module))
            for name in HANDED_CONSTANTS.get(module, ()):
                f.write(f"\n{name} = {handed_constant(module, name)!r}\n")


def handed_constant(module, name):
    """The value of ``cnnlab.<module>.<name>``, checked to be plain data (strings, numbers, tuples, lists)."""
    import importlib

    value = getattr(importlib.import_module(f"cnnlab.{module}"), name)

    def plain(v):
        return isinstance(v, (str, int, float, bool)) or (isinstance(v, (tuple, list)) and all(plain(x) for x in v))

    if not plain(value):
        raise TypeError(f"HANDED_CONSTANTS: cnnlab.{module}.{name} is {type(value).__name__}, not plain data")
    return value


_PLACEHOLDER_MODULE = '''"""cnnlab.{module} is not available while grading."""
from cnnlab.grading.record import AnswerKeyUnavailable


def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(name)

    def unavailable(*args, **kwargs):
        raise AnswerKeyUnavailable(
            "the answer key is not available while grading: write it yourself (cnnlab.{module}." + name + ")")

    unavailable.__name__ = name
    return unavailable
'''
