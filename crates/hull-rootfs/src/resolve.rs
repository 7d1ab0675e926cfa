//! Path resolution inside the container root through file descriptors.
//!
//! Every lookup is `openat2(root_fd, path, O_PATH, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)`,
//! so `..` and absolute symlinks are clamped to the root. Missing components are created
//! relative to their resolved parent descriptor, never through a host path string. A dangling
//! symlink met while creating is followed by hand, again inside the root.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use crate::sys;

/// Bound on symlinks followed by hand while creating a path (the kernel's is 40).
const MAX_SYMLINKS: usize = 40;

/// What to create at the end of a missing path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Dir,
    File,
}

fn einval() -> io::Error {
    io::Error::from_raw_os_error(libc::EINVAL)
}

/// Turns `path` into the relative form openat2 wants ("/a/b" -> "a/b", "/" -> ".").
fn relative(path: &Path) -> &Path {
    let rel = path.strip_prefix("/").unwrap_or(path);
    if rel.as_os_str().is_empty() {
        Path::new(".")
    } else {
        rel
    }
}

/// Opens `path` inside `root` as an `O_PATH` descriptor. With `nofollow` the last component
/// is not followed; with `no_symlinks` any symlink in the path is an error (ELOOP).
pub(crate) fn open(
    root: BorrowedFd,
    path: &Path,
    nofollow: bool,
    no_symlinks: bool,
) -> io::Result<OwnedFd> {
    let c = sys::cstr(relative(path))?;
    let mut flags = libc::O_PATH;
    if nofollow {
        flags |= libc::O_NOFOLLOW;
    }
    let mut resolve = sys::RESOLVE_IN_ROOT | sys::RESOLVE_NO_MAGICLINKS;
    if no_symlinks {
        resolve |= sys::RESOLVE_NO_SYMLINKS;
    }
    sys::openat2(root, &c, flags, resolve)
}

/// Resolves `path` inside `root`, creating what is missing: directories for the leading
/// components and a `kind` at the end. Returns an `O_PATH` descriptor of the result.
pub(crate) fn create(
    root: BorrowedFd,
    path: &Path,
    kind: Kind,
    no_symlinks: bool,
) -> io::Result<OwnedFd> {
    create_reporting(root, path, kind, no_symlinks).map(|(fd, _)| fd)
}

/// [`create`], also telling whether the path was there already (`true`) or
/// was made now.
pub(crate) fn create_reporting(
    root: BorrowedFd,
    path: &Path,
    kind: Kind,
    no_symlinks: bool,
) -> io::Result<(OwnedFd, bool)> {
    let mut path: PathBuf = relative(path).to_path_buf();
    for round in 0..MAX_SYMLINKS {
        match open(root, &path, false, no_symlinks) {
            Ok(fd) => return Ok((fd, round == 0)),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
            Err(e) => return Err(e),
        }
        if let Some(fd) = create_last(root, &path, kind, no_symlinks)? {
            return Ok((fd, false));
        }
        match create_missing(root, &path, kind, no_symlinks)? {
            Walk::Done(fd) => return Ok((fd, false)),
            Walk::Restart(p) => path = p,
        }
    }
    Err(io::Error::from_raw_os_error(libc::ELOOP))
}

/// The common case of [`create`]: only the last component is missing (a
/// mount point in a directory that exists). Three lookups instead of one
/// per component; `None` sends the caller to the full walk (a missing
/// parent, or a name that exists yet did not resolve: a dangling symlink).
fn create_last(
    root: BorrowedFd,
    path: &Path,
    kind: Kind,
    no_symlinks: bool,
) -> io::Result<Option<OwnedFd>> {
    let (Some(parent), Some(Component::Normal(name))) =
        (path.parent(), path.components().next_back())
    else {
        return Ok(None);
    };
    let dir = match open(root, parent, false, no_symlinks) {
        Ok(fd) => fd,
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(None),
        Err(e) => return Err(e),
    };
    let name = CString::new(name.as_bytes()).map_err(|_| einval())?;
    let made = if kind == Kind::File {
        sys::mknodat(dir.as_fd(), &name, libc::S_IFREG | 0o644, 0)
    } else {
        sys::mkdirat(dir.as_fd(), &name, 0o755)
    };
    match made {
        Ok(()) => open(root, path, false, no_symlinks).map(Some),
        Err(e) if e.raw_os_error() == Some(libc::EEXIST) => Ok(None),
        Err(e) => Err(e),
    }
}

enum Walk {
    Done(OwnedFd),
    /// A dangling symlink was met: resolve this path instead.
    Restart(PathBuf),
}

fn create_missing(
    root: BorrowedFd,
    path: &Path,
    kind: Kind,
    no_symlinks: bool,
) -> io::Result<Walk> {
    let comps: Vec<Component> = path
        .components()
        .filter(|c| !matches!(c, Component::RootDir | Component::CurDir))
        .collect();
    let mut parent = open(root, Path::new("."), false, false)?;
    let mut prefix = PathBuf::new();
    for (i, comp) in comps.iter().enumerate() {
        prefix.push(comp);
        match open(root, &prefix, false, no_symlinks) {
            Ok(fd) => {
                parent = fd;
                continue;
            }
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
            Err(e) => return Err(e),
        }
        let Component::Normal(name) = comp else {
            // `..` or a prefix can not be missing once its parent exists.
            return Err(einval());
        };
        let name = CString::new(name.as_bytes()).map_err(|_| einval())?;
        let last = i + 1 == comps.len();
        let made = if last && kind == Kind::File {
            sys::mknodat(parent.as_fd(), &name, libc::S_IFREG | 0o644, 0)
        } else {
            sys::mkdirat(parent.as_fd(), &name, 0o755)
        };
        match made {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {
                // Exists yet did not resolve: a dangling symlink. Follow it inside the root.
                if no_symlinks {
                    return Err(io::Error::from_raw_os_error(libc::ELOOP));
                }
                let target = sys::readlinkat(parent.as_fd(), &name).map_err(|_| e)?;
                let mut next = if target.is_absolute() {
                    relative(&target).to_path_buf()
                } else {
                    let mut p = prefix.parent().unwrap_or(Path::new("")).to_path_buf();
                    p.push(&target);
                    p
                };
                for rest in &comps[i + 1..] {
                    next.push(rest);
                }
                return Ok(Walk::Restart(next));
            }
            Err(e) => return Err(e),
        }
        parent = open(root, &prefix, false, no_symlinks)?;
    }
    Ok(Walk::Done(parent))
}

/// Splits `path` into its parent (resolved and created inside `root`) and its last name,
/// for operations that act on a directory entry itself (mknod, symlink, unlink).
pub(crate) fn parent_and_name(root: BorrowedFd, path: &Path) -> io::Result<(OwnedFd, CString)> {
    let name = match path.components().next_back() {
        Some(Component::Normal(n)) => CString::new(n.as_bytes()).map_err(|_| einval())?,
        _ => return Err(einval()),
    };
    let parent = path.parent().unwrap_or(Path::new("/"));
    let dir = create(root, parent, Kind::Dir, false)?;
    Ok((dir, name))
}
