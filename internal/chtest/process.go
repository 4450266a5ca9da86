package chtest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Process is a test server's child process: in its own process group,
// killed with the test binary, reaped in the background. The zero value is
// stopped. chtest's servers and chcluster's ZooKeeper use it.
type Process struct {
	mu  sync.Mutex
	cmd *exec.Cmd
}

// CPU returns the user and system CPU time the running process has used
// (from /proc), 0 when it does not run.
func (p *Process) CPU() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return 0
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// Fields after the command name, which ends at the last ')': state is
	// the 1st, utime the 12th and stime the 13th, in clock ticks (100/s).
	f := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+s) * 10 * time.Millisecond
}

// Start starts cmd unless the process runs, appending its output to
// logPath, and waits up to 30s until ready returns nil. name and hint
// (e.g. the log to read) go into errors.
func (p *Process) Start(cmd *exec.Cmd, logPath, name, hint string, ready func() error) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		return nil
	}
	log, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		log.Close()
		return fmt.Errorf("start %s: %w", name, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait(); log.Close() }()
	p.cmd = cmd
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case err := <-exited:
			p.cmd = nil
			return fmt.Errorf("%s exited at start (%v); see %s", name, err, hint)
		default:
		}
		if err := ready(); err == nil {
			go func() { <-exited }() // keep reaping it
			return nil
		} else if time.Now().After(deadline) {
			return fmt.Errorf("%s did not answer within 30s: %w", name, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Kill kills the process group with SIGKILL and waits until addr refuses
// connections, so that a restart can bind it.
func (p *Process) Kill(addr string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	for i := 0; i < 200; i++ {
		c, err := net.DialTimeout("tcp", addr, 50*time.Millisecond)
		if err != nil {
			break
		}
		c.Close()
		time.Sleep(25 * time.Millisecond)
	}
	p.cmd = nil
}
