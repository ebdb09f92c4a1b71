package harness

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// stopGracePeriod is how long a component gets to exit after SIGTERM before it is killed.
const stopGracePeriod = 10 * time.Second

// logTailLines is how many lines of a component's log an error message or a failed test shows.
const logTailLines = 40

// process is one control plane component running as a child of the test binary.
type process struct {
	name    string
	logFile string
	cmd     *exec.Cmd

	exited   chan struct{} // closed when Wait returns
	exitErr  error         // set before exited is closed
	stopOnce sync.Once
}

// startProcess runs binary with args, sending stdout and stderr to a log file in dir.
func startProcess(name, binary, dir string, args []string) (*process, error) {
	logFile := filepath.Join(dir, name+".log")
	output, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open log file for %s: %w", name, err)
	}

	cmd := exec.Command(binary, args...)
	cmd.Dir = dir
	cmd.Stdout = output
	cmd.Stderr = output
	cmd.SysProcAttr = &syscall.SysProcAttr{
		// The kernel kills the component if the test binary dies without running its cleanup.
		Pdeathsig: syscall.SIGKILL,
	}
	if err := cmd.Start(); err != nil {
		output.Close()
		return nil, fmt.Errorf("start %s from %s: %w", name, binary, err)
	}

	p := &process{name: name, logFile: logFile, cmd: cmd, exited: make(chan struct{})}
	go func() {
		p.exitErr = cmd.Wait()
		output.Close()
		close(p.exited)
	}()
	return p, nil
}

// pid returns the process id of the component.
func (p *process) pid() int {
	return p.cmd.Process.Pid
}

// running reports whether the component has not exited yet.
func (p *process) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// stop sends SIGTERM to the component's PID, kills it after stopGracePeriod and waits for it to
// exit. Calls after the first return at once.
func (p *process) stop() {
	p.stopOnce.Do(func() {
		if !p.running() {
			return
		}
		// Signal only this PID: the component was started by this package and has no children.
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
			return
		case <-time.After(stopGracePeriod):
		}
		_ = p.cmd.Process.Kill()
		<-p.exited
	})
}

// exitDescription describes how the component exited, for error messages.
func (p *process) exitDescription() string {
	if p.running() {
		return "still running"
	}
	var exitErr *exec.ExitError
	if errors.As(p.exitErr, &exitErr) {
		return exitErr.String()
	}
	if p.exitErr != nil {
		return p.exitErr.Error()
	}
	return "exit status 0"
}

// logTail returns the last lines of the component's log.
func (p *process) logTail(lines int) string {
	data, err := os.ReadFile(p.logFile)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", p.logFile, err)
	}
	data = bytes.TrimRight(data, "\n")
	all := strings.Split(string(data), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}

// failure builds an error about the component that ends with the tail of its log.
func (p *process) failure(format string, args ...any) error {
	return fmt.Errorf("%s (pid %d, %s): %s\nlast %d lines of %s:\n%s",
		p.name, p.pid(), p.exitDescription(), fmt.Sprintf(format, args...),
		logTailLines, p.logFile, p.logTail(logTailLines))
}

// freePorts returns n distinct TCP ports on 127.0.0.1 that were free when checked. Another
// process can still take a port between this check and the component binding it, and the
// component then fails to start with "address already in use" in its log.
func freePorts(n int) ([]int, error) {
	listeners := make([]net.Listener, 0, n)
	defer func() {
		for _, l := range listeners {
			l.Close()
		}
	}()

	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port on 127.0.0.1: %w", err)
		}
		listeners = append(listeners, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
