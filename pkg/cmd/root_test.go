package cmd

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"

	"github.com/kubectl-mlflow/kubectl-mlflow/pkg/snapshot"
)

// executeRoot runs the command tree with args in-process and returns stdout, stderr and the error.
func executeRoot(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	streams, _, out, errOut := genericiooptions.NewTestIOStreams()
	root := NewCmdRoot(streams)
	root.SetOut(out)
	root.SetErr(errOut)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), errOut.String(), err
}

// visibleCommandPaths returns the paths below the root, such as "completion bash", of every
// command that help lists.
func visibleCommandPaths(t *testing.T) []string {
	t.Helper()
	root := NewCmdRoot(genericiooptions.NewTestIOStreamsDiscard())
	var paths []string
	var walk func(c *cobra.Command, prefix string)
	walk = func(c *cobra.Command, prefix string) {
		for _, child := range c.Commands() {
			if child.Hidden || child.Name() == "help" {
				continue
			}
			path := strings.TrimSpace(prefix + " " + child.Name())
			paths = append(paths, path)
			walk(child, path)
		}
	}
	walk(root, "")
	return paths
}

func TestHelpSaysKubectlMlflow(t *testing.T) {
	paths := visibleCommandPaths(t)
	for _, want := range []string{"explain-hpa", "version", "scale-status", "simulate", "pdb-check", "completion", "completion bash"} {
		if !slices.Contains(paths, want) {
			t.Fatalf("command tree has no %q; commands: %q", want, paths)
		}
	}

	for _, path := range paths {
		t.Run(path, func(t *testing.T) {
			out, _, err := executeRoot(t, append(strings.Fields(path), "--help")...)
			if err != nil {
				t.Fatalf("%s --help: %v", path, err)
			}

			usage := usageLine(out)
			if !strings.HasPrefix(usage, "kubectl mlflow "+path) {
				t.Errorf("usage line = %q, want it to start with %q", usage, "kubectl mlflow "+path)
			}
			if strings.Contains(out, "kubectl-mlflow "+path) {
				t.Errorf("help names the binary, want \"kubectl mlflow\":\n%s", out)
			}
			if !strings.Contains(out, "Examples:") {
				t.Errorf("help has no Examples section:\n%s", out)
			}
		})
	}
}

// usageLine returns the first line after "Usage:" in help output.
func usageLine(help string) string {
	_, after, found := strings.Cut(help, "Usage:\n")
	if !found {
		return ""
	}
	line, _, _ := strings.Cut(after, "\n")
	return strings.TrimSpace(line)
}

func TestExplainHPAUsageLine(t *testing.T) {
	out, _, err := executeRoot(t, "explain-hpa", "-h")
	if err != nil {
		t.Fatalf("explain-hpa -h: %v", err)
	}
	if usage := usageLine(out); !strings.HasPrefix(usage, "kubectl mlflow explain-hpa") {
		t.Errorf("usage line = %q, want \"kubectl mlflow explain-hpa ...\"", usage)
	}
}

func TestRootHelpFlags(t *testing.T) {
	out, _, err := executeRoot(t, "--help")
	if err != nil {
		t.Fatalf("--help: %v", err)
	}
	for _, flag := range []string{"--context", "--kubeconfig", "-n, --namespace", "--as ", "--request-timeout", "-v, --v"} {
		if !strings.Contains(out, flag) {
			t.Errorf("root help has no %q flag", flag)
		}
	}
	for _, hidden := range []string{"--vmodule", "--log-flush-frequency"} {
		if strings.Contains(out, hidden) {
			t.Errorf("root help shows %q, want it hidden", hidden)
		}
	}
	if !strings.Contains(out, "kubectl mlflow [command]") {
		t.Errorf("root usage does not say \"kubectl mlflow [command]\":\n%s", out)
	}
}

func TestSubcommandsInheritKubeconfigFlags(t *testing.T) {
	root := NewCmdRoot(genericiooptions.NewTestIOStreamsDiscard())
	for _, name := range []string{"explain-hpa", "version", "scale-status"} {
		c, _, err := root.Find([]string{name})
		if err != nil {
			t.Fatalf("find %s: %v", name, err)
		}
		for _, flag := range []string{"context", "kubeconfig", "namespace", "as", "request-timeout", "v"} {
			if c.Flag(flag) == nil {
				t.Errorf("%s has no --%s flag", name, flag)
			}
		}
	}
}

func TestPlannedSubcommandsFail(t *testing.T) {
	for _, name := range []string{"scale-status", "simulate", "pdb-check"} {
		t.Run(name, func(t *testing.T) {
			out, _, err := executeRoot(t, name)
			if err == nil {
				t.Fatalf("%s succeeded, want an error", name)
			}
			message := err.Error()
			if !strings.Contains(message, name) || !strings.Contains(message, "not available") {
				t.Errorf("error = %q, want it to name %q and say it is not available", message, name)
			}
			if strings.Contains(message, "\n") {
				t.Errorf("error = %q, want one line", message)
			}
			if out != "" {
				t.Errorf("stdout = %q, want nothing", out)
			}
		})
	}
}

// completions runs `kubectl-mlflow __complete args...` and returns the candidates without their
// descriptions, and the directive line.
func completions(t *testing.T, args ...string) ([]string, string) {
	t.Helper()
	out, _, err := executeRoot(t, append([]string{"__complete"}, args...)...)
	if err != nil {
		t.Fatalf("__complete %q: %v", args, err)
	}
	var candidates []string
	var directive string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if strings.HasPrefix(line, ":") {
			directive = line
			continue
		}
		name, _, _ := strings.Cut(line, "\t")
		candidates = append(candidates, name)
	}
	return candidates, directive
}

func TestCompleteSubcommands(t *testing.T) {
	got, directive := completions(t, "")
	for _, want := range []string{"completion", "explain-hpa", "pdb-check", "scale-status", "simulate", "version"} {
		if !slices.Contains(got, want) {
			t.Errorf("completions of \"\" = %q, missing %q", got, want)
		}
	}
	if directive != ":4" {
		t.Errorf("directive = %q, want \":4\" (no file completion)", directive)
	}

	got, _ = completions(t, "s")
	if want := []string{"scale-status", "simulate"}; !slices.Equal(got, want) {
		t.Errorf("completions of \"s\" = %q, want %q", got, want)
	}
}

func TestCompleteFlags(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{args: []string{"--kubec"}, want: "--kubeconfig"},
		{args: []string{"explain-hpa", "--cont"}, want: "--context"},
		{args: []string{"explain-hpa", "--request-t"}, want: "--request-timeout"},
		{args: []string{"version", "--out"}, want: "--output"},
	}
	for _, tc := range cases {
		got, _ := completions(t, tc.args...)
		if !slices.Contains(got, tc.want) {
			t.Errorf("completions of %q = %q, missing %q", tc.args, got, tc.want)
		}
	}

	got, _ := completions(t, "completion", "")
	for _, shell := range []string{"bash", "zsh", "fish", "powershell"} {
		if !slices.Contains(got, shell) {
			t.Errorf("completions of \"completion \" = %q, missing %q", got, shell)
		}
	}
}

// TestCompleteNamespaceFlag completes -n against an API server on loopback that serves a
// namespace list, so it covers the flag registration and the client built from the kubeconfig flags.
func TestCompleteNamespaceFlag(t *testing.T) {
	var requests []string
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests = append(requests, r.URL.Path)
		if r.URL.Path != "/api/v1/namespaces" {
			http.NotFound(w, r)
			return
		}
		list := corev1.NamespaceList{
			TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "NamespaceList"},
			Items: []corev1.Namespace{
				{ObjectMeta: metav1.ObjectMeta{Name: "default"}},
				{ObjectMeta: metav1.ObjectMeta{Name: "mlflow"}},
				{ObjectMeta: metav1.ObjectMeta{Name: "mlflow-staging"}},
			},
		}
		w.Header().Set("Content-Type", "application/json")
		if err := json.NewEncoder(w).Encode(list); err != nil {
			t.Errorf("encode namespace list: %v", err)
		}
	}))
	defer server.Close()

	// An empty kubeconfig file keeps the test away from the kubeconfig of the machine.
	kubeconfig := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(kubeconfig, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	got, directive := completions(t, "--kubeconfig", kubeconfig, "--server", server.URL, "explain-hpa", "-n", "ml")
	if want := []string{"mlflow", "mlflow-staging"}; !slices.Equal(got, want) {
		t.Errorf("completions of -n ml = %q, want %q (requests: %q)", got, want, requests)
	}
	if directive != ":4" {
		t.Errorf("directive = %q, want \":4\"", directive)
	}
}

func TestVersionOutputIsStamped(t *testing.T) {
	var out bytes.Buffer
	root := NewCmdRoot(genericiooptions.IOStreams{Out: &out, ErrOut: &out})
	root.SetArgs([]string{"version", "-o", "json"})
	if err := root.Execute(); err != nil {
		t.Fatalf("version -o json: %v", err)
	}
	var info map[string]string
	if err := json.Unmarshal(out.Bytes(), &info); err != nil {
		t.Fatalf("version -o json printed invalid JSON %q: %v", out.String(), err)
	}
	if info["version"] == "" {
		t.Errorf("version -o json has no version: %q", out.String())
	}
}

func TestCompletionRejectsUnsupportedShell(t *testing.T) {
	cases := []struct {
		desc string
		args []string
		want string
	}{
		{desc: "unknown shell", args: []string{"completion", "tcsh"}, want: `unsupported shell "tcsh": give one of bash, fish, powershell, zsh`},
		{desc: "missing shell", args: []string{"completion"}, want: `missing shell: give one of bash, fish, powershell, zsh, for example "kubectl mlflow completion bash"`},
	}
	for _, tc := range cases {
		t.Run(tc.desc, func(t *testing.T) {
			out, _, err := executeRoot(t, tc.args...)
			if err == nil {
				t.Fatalf("%q succeeded, want an error", tc.args)
			}
			if err.Error() != tc.want {
				t.Errorf("error = %q, want %q", err, tc.want)
			}
			if strings.Contains(out, "Usage:") {
				t.Errorf("stdout shows help, want nothing:\n%s", out)
			}
		})
	}
}

// cancelRecorder is a transport that records the requests it is asked to cancel.
type cancelRecorder struct {
	cancelled []*http.Request
}

func (r *cancelRecorder) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, errors.New("cancelRecorder sends no request")
}

func (r *cancelRecorder) CancelRequest(request *http.Request) {
	r.cancelled = append(r.cancelled, request)
}

// wrapperOnly wraps a transport without a CancelRequest method of its own.
type wrapperOnly struct {
	next http.RoundTripper
}

func (w wrapperOnly) RoundTrip(request *http.Request) (*http.Response, error) {
	return w.next.RoundTrip(request)
}

func (w wrapperOnly) WrappedRoundTripper() http.RoundTripper { return w.next }

// The request counter sits between client-go's own round trippers, which cancel a timed-out
// request by calling CancelRequest down the chain.
func TestRequestCounterForwardsCancel(t *testing.T) {
	cases := []struct {
		desc string
		wrap func(*cancelRecorder) http.RoundTripper
	}{
		{desc: "canceler below", wrap: func(r *cancelRecorder) http.RoundTripper { return r }},
		{desc: "canceler below a wrapper", wrap: func(r *cancelRecorder) http.RoundTripper { return wrapperOnly{next: r} }},
	}
	for _, tc := range cases {
		t.Run(tc.desc, func(t *testing.T) {
			recorder := &cancelRecorder{}
			next := tc.wrap(recorder)
			counting := (&snapshot.RequestCounter{}).Wrap(next)

			canceler, isCanceler := counting.(interface{ CancelRequest(*http.Request) })
			if !isCanceler {
				t.Fatalf("%T has no CancelRequest method", counting)
			}
			request := httptest.NewRequest(http.MethodGet, "http://127.0.0.1/api", nil)
			canceler.CancelRequest(request)
			if len(recorder.cancelled) != 1 || recorder.cancelled[0] != request {
				t.Errorf("cancelled %v, want the request once", recorder.cancelled)
			}

			wrapper, isWrapper := counting.(utilnet.RoundTripperWrapper)
			if !isWrapper {
				t.Fatalf("%T does not implement RoundTripperWrapper", counting)
			}
			if wrapper.WrappedRoundTripper() != next {
				t.Errorf("WrappedRoundTripper = %v, want the wrapped transport %v", wrapper.WrappedRoundTripper(), next)
			}
		})
	}
}

// TestRequestCounterTimeoutLogsNoCancelWarning sends a request through client-go's transport
// chain, with the request counter inside it, to a server on loopback that does not respond in time.
// client-go cancels the timed-out request by calling CancelRequest down the chain, and logs
// "unable to cancel request" when a round tripper has no such method.
func TestRequestCounterTimeoutLogsNoCancelWarning(t *testing.T) {
	release := make(chan struct{})
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Hold the request until the client gives up or the test ends, at most 10 seconds.
		select {
		case <-r.Context().Done():
		case <-release:
		case <-time.After(10 * time.Second):
		}
	}))
	defer server.Close()
	defer close(release)

	// Capture klog without copying its errors to stderr.
	var logs bytes.Buffer
	klogFlags := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(klogFlags)
	setKlogFlag(t, klogFlags, "stderrthreshold", "FATAL")
	klog.LogToStderr(false)
	klog.SetOutput(&logs)
	defer func() {
		klog.Flush()
		klog.SetOutput(os.Stderr)
		klog.LogToStderr(true)
		setKlogFlag(t, klogFlags, "stderrthreshold", "ERROR")
	}()

	// The signalling transport sits below the counter and records that the cancellation came through.
	cancelled := make(chan struct{}, 1)
	counter := &snapshot.RequestCounter{}
	// A user agent puts client-go's userAgentRoundTripper, which forwards CancelRequest, around
	// the counter, as in the clients that NewLiveReader builds.
	config := &rest.Config{Host: server.URL, Timeout: 50 * time.Millisecond, UserAgent: "kubectl-mlflow-test"}
	config.Wrap(func(next http.RoundTripper) http.RoundTripper { return &cancelSignal{next: next, cancelled: cancelled} })
	config.Wrap(counter.Wrap)
	client, err := rest.HTTPClientFor(config)
	if err != nil {
		t.Fatalf("HTTPClientFor: %v", err)
	}
	response, err := client.Get(server.URL)
	if err == nil {
		response.Body.Close()
		t.Fatal("GET succeeded against a server that does not answer")
	}

	// net/http calls CancelRequest on its own goroutine, possibly after Get has returned.
	select {
	case <-cancelled:
	case <-time.After(2 * time.Second):
		t.Error("CancelRequest did not reach the transport below the counter within 2s")
	}
	klog.Flush()
	if got := counter.Count(); got != 1 {
		t.Errorf("counted %d requests, want 1", got)
	}
	if strings.Contains(logs.String(), "unable to cancel request") {
		t.Errorf("client-go could not cancel the request through the counter:\n%s", logs.String())
	}
}

// cancelSignal forwards requests to next and signals each CancelRequest call on cancelled.
type cancelSignal struct {
	next      http.RoundTripper
	cancelled chan struct{}
}

func (c *cancelSignal) RoundTrip(request *http.Request) (*http.Response, error) {
	return c.next.RoundTrip(request)
}

func (c *cancelSignal) CancelRequest(*http.Request) {
	select {
	case c.cancelled <- struct{}{}:
	default:
	}
}

func setKlogFlag(t *testing.T, flags *flag.FlagSet, name, value string) {
	t.Helper()
	if err := flags.Set(name, value); err != nil {
		t.Fatalf("set klog flag %s=%s: %v", name, value, err)
	}
}
