// Command faultfs is the Drover test bed's per-host storage path: a FUSE
// pass-through (go-fuse's loopback) of a backing directory, mounted inside a
// test host's mount namespace, that can be "cut" (every operation fails with
// EIO) and restored through a control socket.
//
// The daemon itself stays in the caller's mount namespace, where the backing
// directory is reachable under its own path; only the mount(2) call runs in
// the host's namespace (a re-exec of this binary under nsenter, handed the
// /dev/fuse descriptor), so the FUSE mount can sit on top of the very path it
// serves without the daemon seeing itself.
//
//	faultfs serve -backing DIR -mountpoint DIR -mount-ns NSFILE -control SOCKET
//	faultfs mount-fd -fd N -mountpoint DIR -rootmode OCTAL   (internal)
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

func main() {
	log.SetFlags(log.LstdFlags | log.Lmicroseconds)
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: faultfs serve|mount-fd [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "serve":
		err = serve(os.Args[2:])
	case "mount-fd":
		err = mountFd(os.Args[2:])
	default:
		err = fmt.Errorf("unknown subcommand %q", os.Args[1])
	}
	if err != nil {
		log.Printf("faultfs: %v", err)
		os.Exit(1)
	}
}

func serve(args []string) error {
	fl := flag.NewFlagSet("serve", flag.ExitOnError)
	backing := fl.String("backing", "", "directory to pass through")
	mountpoint := fl.String("mountpoint", "", "where to mount, inside -mount-ns")
	mountNs := fl.String("mount-ns", "", "mount namespace file (e.g. a bind-mounted /proc/PID/ns/mnt)")
	control := fl.String("control", "", "unix socket for cut/restore/status")
	_ = fl.Parse(args)
	if *backing == "" || *mountpoint == "" || *mountNs == "" || *control == "" {
		return fmt.Errorf("serve needs -backing, -mountpoint, -mount-ns and -control")
	}

	root, err := fs.NewLoopbackRoot(*backing)
	if err != nil {
		return err
	}
	// No caching of names or attributes: several hosts change the same
	// backing directory, and each must see the others' changes at once, as
	// NFS clients with actimeo=0 do (qcow2 files grow under a migration).
	zero := time.Duration(0)
	opts := &fs.Options{EntryTimeout: &zero, AttrTimeout: &zero, NegativeTimeout: &zero}
	opts.MountOptions = fuse.MountOptions{
		FsName: "faultfs:" + *backing,
		Name:   "faultfs",
		// No EnableLocks: locks stay local to this mount (the kernel's own),
		// so QEMU's image locks do not reach other hosts. Forwarding them
		// (as OFD locks on the loopback's backing files) broke live
		// migration: the source's locks go away with its asynchronous FUSE
		// RELEASE, after the destination already asked for them ("Failed
		// to get write lock" on 'cont'). Cross-host exclusion is
		// virtlockd's, whose lockspace is a real directory outside faultfs.
		AllowOther: true,
		// Splicing from O_DIRECT files (QEMU's cache=none) fails with EINVAL
		// on every read and falls back to copying anyway, logging each time.
		DisableSplice: true,
	}
	ffs := &faultFS{RawFileSystem: fs.NewNodeFS(root, opts)}

	devFuse, err := os.OpenFile("/dev/fuse", os.O_RDWR, 0)
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	// The mount(2) happens in the host's namespace; the child gets /dev/fuse
	// as fd 3 (ExtraFiles[0]).
	cmd := exec.Command("nsenter", "--mount="+*mountNs, "--", self, "mount-fd",
		"-fd", "3", "-mountpoint", *mountpoint, "-rootmode", "40000")
	cmd.ExtraFiles = []*os.File{devFuse}
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("mounting in %s: %w", *mountNs, err)
	}

	server, err := fuse.NewServer(ffs, fmt.Sprintf("/dev/fd/%d", devFuse.Fd()), &opts.MountOptions)
	if err != nil {
		return err
	}
	go server.Serve()
	if err := server.WaitMount(); err != nil {
		return err
	}
	if err := serveControl(*control, ffs); err != nil {
		return err
	}
	log.Printf("serving %s at %s in %s; control %s", *backing, *mountpoint, *mountNs, *control)

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	// The server knows /dev/fuse only by its number: without this the *os.File
	// becomes garbage, its finalizer closes the descriptor under the server,
	// and the number is reused for a backing file.
	runtime.KeepAlive(devFuse)
	// Detach the mount so the host sees "no such directory content" rather
	// than a dead connection (ENOTCONN) for whatever is still there.
	umount := exec.Command("nsenter", "--mount="+*mountNs, "--", "umount", "-l", *mountpoint)
	umount.Stdout, umount.Stderr = os.Stderr, os.Stderr
	_ = umount.Run()
	_ = os.Remove(*control)
	return nil
}

// mountFd performs the FUSE mount(2) in the current mount namespace with an
// already open /dev/fuse descriptor (the kernel looks "fd=N" up in the
// calling process, which is why this runs as a child holding that fd).
func mountFd(args []string) error {
	fl := flag.NewFlagSet("mount-fd", flag.ExitOnError)
	fd := fl.Int("fd", -1, "open /dev/fuse descriptor")
	mountpoint := fl.String("mountpoint", "", "mount point")
	rootmode := fl.String("rootmode", "40000", "file type bits of the root, octal")
	_ = fl.Parse(args)
	if *fd < 0 || *mountpoint == "" {
		return fmt.Errorf("mount-fd needs -fd and -mountpoint")
	}
	// default_permissions: the kernel checks modes and owners as for a local
	// file system, so QEMU (libvirt-qemu) gets exactly the access it would
	// get on the real directory.
	data := fmt.Sprintf("fd=%d,rootmode=%s,user_id=0,group_id=0,allow_other,default_permissions", *fd, *rootmode)
	return syscall.Mount("faultfs", *mountpoint, "fuse.faultfs", syscall.MS_NOSUID|syscall.MS_NODEV, data)
}
