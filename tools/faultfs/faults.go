package main

import (
	"sync/atomic"

	"github.com/hanwen/go-fuse/v2/fuse"
)

// faultFS wraps a pass-through file system and, while cut, answers every
// request that touches storage with EIO, the way an unreachable storage
// server looks to a host once its client gives up. Forget and Release stay
// pass-through so the kernel's and our bookkeeping of open files and inodes
// stays in step; they return nothing to the caller anyway. Lock requests
// never arrive: locks are the kernel's, local to the mount (see main.go).
type faultFS struct {
	fuse.RawFileSystem
	cut atomic.Bool
}

func (f *faultFS) failing() bool { return f.cut.Load() }

// noPassthrough keeps reads and writes of an open file going through us. The
// loopback hands the kernel its backing file (FUSE passthrough, Linux 6.9+)
// when it can, and the kernel then does the I/O without asking the daemon,
// so a cut would never reach a running QEMU's disk.
func noPassthrough(out *fuse.OpenOut) {
	out.OpenFlags &^= fuse.FOPEN_PASSTHROUGH
	out.BackingID = 0
}

func (f *faultFS) Lookup(c <-chan struct{}, h *fuse.InHeader, name string, out *fuse.EntryOut) fuse.Status {
	if f.failing() {
		return fuse.EIO
	}
	return f.RawFileSystem.Lookup(c, h, name, out)
}

func (f *faultFS) GetAttr(c <-chan struct{}, in *fuse.GetAttrIn, out *fuse.AttrOut) fuse.Status {
	if f.failing() {
		return fuse.EIO
	}
	return f.RawFileSystem.GetAttr(c, in, out)
}

func (f *faultFS) SetAttr(c <-chan struct{}, in *fuse.SetAttrIn, out *fuse.AttrOut) fuse.Status {
	if f.failing() {
		return fuse.EIO
	}
	return f.RawFileSystem.SetAttr(c, in, out)
}

func (f *faultFS) Mknod(c <-chan struct{}, in *fuse.MknodIn, name string, out *fuse.EntryOut) fuse.Status {
	if f.failing() {
		return fuse.EIO
	}
	return f.RawFileSystem.Mknod(c, in, name, out)
}

func (f *faultFS) Mkdir(c <-chan struct{}, in *fuse.MkdirIn, name string, out *fuse.EntryOut) fuse.Status {
	if f.failing() {
		return fuse.EIO
	}
	return f.RawFileSystem.Mkdir(c, in, name, out)
}

func (f *faultFS) Unlink(c <-chan struct{}, h *fuse.InHeader, name string) fuse.Status {
	if f.failing() {
		return fuse.EIO
	}
	return f.RawFileSystem.Unlink(c, h, name)
}

func (f *faultFS) Rmdir(c <-chan struct{}, h *fuse.InHeader, name string) fuse.Status {
	if f.failing() {
		return fuse.EIO
	}
	return f.RawFileSystem.Rmdir(c, h, name)
}

func (f *faultFS) Rename(c <-chan struct{}, in *fuse.RenameIn, oldName, newName string) fuse.Status {
	if f.failing() {
		return fuse.EIO
	}
	return f.RawFileSystem.Rename(c, in, oldName, newName)
}

func (f *faultFS) Link(c <-chan struct{}, in *fuse.LinkIn, name string, out *fuse.EntryOut) fuse.Status {
	if f.failing() {
		return fuse.EIO
	}
	return f.RawFileSystem.Link(c, in, name, out)
}

func (f *faultFS) Symlink(c <-chan struct{}, h *fuse.InHeader, target, name string, out *fuse.EntryOut) fuse.Status {
	if f.failing() {
		return fuse.EIO
	}
	return f.RawFileSystem.Symlink(c, h, target, name, out)
}

func (f *faultFS) Readlink(c <-chan struct{}, h *fuse.InHeader) ([]byte, fuse.Status) {
	if f.failing() {
		return nil, fuse.EIO
	}
	return f.RawFileSystem.Readlink(c, h)
}

func (f *faultFS) Access(c <-chan struct{}, in *fuse.AccessIn) fuse.Status {
	if f.failing() {
		return fuse.EIO
	}
	return f.RawFileSystem.Access(c, in)
}

func (f *faultFS) GetXAttr(c <-chan struct{}, h *fuse.InHeader, attr string, dest []byte) (uint32, fuse.Status) {
	if f.failing() {
		return 0, fuse.EIO
	}
	return f.RawFileSystem.GetXAttr(c, h, attr, dest)
}

func (f *faultFS) ListXAttr(c <-chan struct{}, h *fuse.InHeader, dest []byte) (uint32, fuse.Status) {
	if f.failing() {
		return 0, fuse.EIO
	}
	return f.RawFileSystem.ListXAttr(c, h, dest)
}

func (f *faultFS) SetXAttr(c <-chan struct{}, in *fuse.SetXAttrIn, attr string, data []byte) fuse.Status {
	if f.failing() {
		return fuse.EIO
	}
	return f.RawFileSystem.SetXAttr(c, in, attr, data)
}

func (f *faultFS) RemoveXAttr(c <-chan struct{}, h *fuse.InHeader, attr string) fuse.Status {
	if f.failing() {
		return fuse.EIO
	}
	return f.RawFileSystem.RemoveXAttr(c, h, attr)
}

func (f *faultFS) Create(c <-chan struct{}, in *fuse.CreateIn, name string, out *fuse.CreateOut) fuse.Status {
	if f.failing() {
		return fuse.EIO
	}
	st := f.RawFileSystem.Create(c, in, name, out)
	noPassthrough(&out.OpenOut)
	return st
}

func (f *faultFS) Tmpfile(c <-chan struct{}, in *fuse.CreateIn, out *fuse.CreateOut) fuse.Status {
	if f.failing() {
		return fuse.EIO
	}
	st := f.RawFileSystem.Tmpfile(c, in, out)
	noPassthrough(&out.OpenOut)
	return st
}

func (f *faultFS) Open(c <-chan struct{}, in *fuse.OpenIn, out *fuse.OpenOut) fuse.Status {
	if f.failing() {
		return fuse.EIO
	}
	st := f.RawFileSystem.Open(c, in, out)
	noPassthrough(out)
	return st
}

func (f *faultFS) Read(c <-chan struct{}, in *fuse.ReadIn, buf []byte) (fuse.ReadResult, fuse.Status) {
	if f.failing() {
		return nil, fuse.EIO
	}
	return f.RawFileSystem.Read(c, in, buf)
}

func (f *faultFS) Lseek(c <-chan struct{}, in *fuse.LseekIn, out *fuse.LseekOut) fuse.Status {
	if f.failing() {
		return fuse.EIO
	}
	return f.RawFileSystem.Lseek(c, in, out)
}

func (f *faultFS) Write(c <-chan struct{}, in *fuse.WriteIn, data []byte) (uint32, fuse.Status) {
	if f.failing() {
		return 0, fuse.EIO
	}
	return f.RawFileSystem.Write(c, in, data)
}

func (f *faultFS) Writev(c <-chan struct{}, in *fuse.WriteIn, data [][]byte) (uint32, fuse.Status) {
	if f.failing() {
		return 0, fuse.EIO
	}
	return f.RawFileSystem.Writev(c, in, data)
}

func (f *faultFS) CopyFileRange(c <-chan struct{}, in *fuse.CopyFileRangeIn) (uint32, fuse.Status) {
	if f.failing() {
		return 0, fuse.EIO
	}
	return f.RawFileSystem.CopyFileRange(c, in)
}

func (f *faultFS) Ioctl(c <-chan struct{}, in *fuse.IoctlIn, inbuf []byte, out *fuse.IoctlOut, outbuf []byte) fuse.Status {
	if f.failing() {
		return fuse.EIO
	}
	return f.RawFileSystem.Ioctl(c, in, inbuf, out, outbuf)
}

func (f *faultFS) Flush(c <-chan struct{}, in *fuse.FlushIn) fuse.Status {
	if f.failing() {
		return fuse.EIO
	}
	return f.RawFileSystem.Flush(c, in)
}

func (f *faultFS) Fsync(c <-chan struct{}, in *fuse.FsyncIn) fuse.Status {
	if f.failing() {
		return fuse.EIO
	}
	return f.RawFileSystem.Fsync(c, in)
}

func (f *faultFS) Fallocate(c <-chan struct{}, in *fuse.FallocateIn) fuse.Status {
	if f.failing() {
		return fuse.EIO
	}
	return f.RawFileSystem.Fallocate(c, in)
}

func (f *faultFS) OpenDir(c <-chan struct{}, in *fuse.OpenIn, out *fuse.OpenOut) fuse.Status {
	if f.failing() {
		return fuse.EIO
	}
	return f.RawFileSystem.OpenDir(c, in, out)
}

func (f *faultFS) ReadDir(c <-chan struct{}, in *fuse.ReadIn, out *fuse.DirEntryList) fuse.Status {
	if f.failing() {
		return fuse.EIO
	}
	return f.RawFileSystem.ReadDir(c, in, out)
}

func (f *faultFS) ReadDirPlus(c <-chan struct{}, in *fuse.ReadIn, out *fuse.DirEntryList) fuse.Status {
	if f.failing() {
		return fuse.EIO
	}
	return f.RawFileSystem.ReadDirPlus(c, in, out)
}

func (f *faultFS) FsyncDir(c <-chan struct{}, in *fuse.FsyncIn) fuse.Status {
	if f.failing() {
		return fuse.EIO
	}
	return f.RawFileSystem.FsyncDir(c, in)
}

func (f *faultFS) StatFs(c <-chan struct{}, h *fuse.InHeader, out *fuse.StatfsOut) fuse.Status {
	if f.failing() {
		return fuse.EIO
	}
	return f.RawFileSystem.StatFs(c, h, out)
}

func (f *faultFS) Statx(c <-chan struct{}, in *fuse.StatxIn, out *fuse.StatxOut) fuse.Status {
	if f.failing() {
		return fuse.EIO
	}
	return f.RawFileSystem.Statx(c, in, out)
}
