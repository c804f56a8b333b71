package main

import (
	"bufio"
	"fmt"
	"log"
	"net"
	"os"
	"strings"
)

// serveControl answers one-line commands on a unix socket: "cut", "restore"
// or "status". Each reply is the state after the command ("cut" or
// "passthrough"), written only once the switch is in effect, so a caller
// that has read the reply knows every later request sees the new state.
func serveControl(path string, f *faultFS) error {
	_ = os.Remove(path)
	l, err := net.Listen("unix", path)
	if err != nil {
		return err
	}
	if err := os.Chmod(path, 0o600); err != nil {
		return err
	}
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				log.Printf("control: accept: %v", err)
				return
			}
			go handleControl(conn, f)
		}
	}()
	return nil
}

func handleControl(conn net.Conn, f *faultFS) {
	defer conn.Close()
	sc := bufio.NewScanner(conn)
	for sc.Scan() {
		switch cmd := strings.TrimSpace(sc.Text()); cmd {
		case "cut":
			f.cut.Store(true)
			log.Printf("storage cut: every operation fails with EIO")
		case "restore":
			f.cut.Store(false)
			log.Printf("storage restored: pass-through")
		case "status":
		default:
			fmt.Fprintf(conn, "error unknown command %q\n", cmd)
			continue
		}
		state := "passthrough"
		if f.cut.Load() {
			state = "cut"
		}
		fmt.Fprintf(conn, "%s\n", state)
	}
}
