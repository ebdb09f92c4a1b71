package harness

import (
	"fmt"
	"strconv"
	"testing"
	"time"
)

// DefaultHPASyncPeriod is the HPA controller's sync period when HPAControllerOptions leaves it
// zero. The upstream default is 15 s, which would make every test wait.
const DefaultHPASyncPeriod = time.Second

// HPAControllerOptions configures the HPA controller process. A zero duration or tolerance keeps
// the kube-controller-manager default (downscale stabilization 5m, tolerance 0.1, CPU
// initialization period 5m, initial readiness delay 30s in v1.37), except SyncPeriod, which
// defaults to DefaultHPASyncPeriod. To set a value to exactly zero, pass the flag in ExtraFlags,
// for example "--horizontal-pod-autoscaler-tolerance=0".
type HPAControllerOptions struct {
	SyncPeriod              time.Duration
	DownscaleStabilization  time.Duration
	Tolerance               float64
	CPUInitializationPeriod time.Duration
	InitialReadinessDelay   time.Duration
	// ExtraFlags are appended to the kube-controller-manager flags, so they override the above.
	ExtraFlags []string
}

// HPAController is a kube-controller-manager process that runs only the HPA controller.
type HPAController struct {
	process *process
}

// StartHPAController starts a second kube-controller-manager that runs only
// horizontal-pod-autoscaler-controller and waits for its /healthz. A test can set up workloads,
// metrics and HPAs first, so that the controller's first sync reads them with no history, as a
// freshly started controller would. The process stops when the test ends or at Stop.
func (c *Cluster) StartHPAController(t testing.TB, opts HPAControllerOptions) *HPAController {
	t.Helper()
	if opts.SyncPeriod <= 0 {
		opts.SyncPeriod = DefaultHPASyncPeriod
	}

	flags := []string{"--horizontal-pod-autoscaler-sync-period=" + opts.SyncPeriod.String()}
	if opts.DownscaleStabilization > 0 {
		flags = append(flags, "--horizontal-pod-autoscaler-downscale-stabilization="+opts.DownscaleStabilization.String())
	}
	if opts.Tolerance > 0 {
		flags = append(flags, "--horizontal-pod-autoscaler-tolerance="+strconv.FormatFloat(opts.Tolerance, 'g', -1, 64))
	}
	if opts.CPUInitializationPeriod > 0 {
		flags = append(flags, "--horizontal-pod-autoscaler-cpu-initialization-period="+opts.CPUInitializationPeriod.String())
	}
	if opts.InitialReadinessDelay > 0 {
		flags = append(flags, "--horizontal-pod-autoscaler-initial-readiness-delay="+opts.InitialReadinessDelay.String())
	}
	flags = append(flags, opts.ExtraFlags...)

	c.controllers++
	name := fmt.Sprintf("hpa-controller-%d", c.controllers)
	p, err := c.startControllerManager(t, name, []string{"horizontal-pod-autoscaler-controller"}, flags)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("HPA controller started (pid %d, sync period %s)", p.pid(), opts.SyncPeriod)
	return &HPAController{process: p}
}

// Stop stops the HPA controller by PID and waits for it to exit. Calling it again does nothing.
func (h *HPAController) Stop() {
	h.process.stop()
}

// PID returns the process id of the controller manager.
func (h *HPAController) PID() int {
	return h.process.pid()
}

// LogFile returns the path of the controller manager's log, which is removed after the test.
func (h *HPAController) LogFile() string {
	return h.process.logFile
}
