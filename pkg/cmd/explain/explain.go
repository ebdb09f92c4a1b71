// Package explain implements `kubectl mlflow explain-hpa`: it reads HPAs and everything their
// decision depends on, from a cluster or from manifests, runs the engine and prints the report.
package explain

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/klog/v2"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-mlflow/kubectl-mlflow/pkg/cmd/completion"
	"github.com/kubectl-mlflow/kubectl-mlflow/pkg/hpa"
	"github.com/kubectl-mlflow/kubectl-mlflow/pkg/report"
	"github.com/kubectl-mlflow/kubectl-mlflow/pkg/snapshot"
)

const example = `  # Explain the next decision of the HPA "mlflow" in namespace "mlflow"
  kubectl mlflow explain-hpa mlflow -n mlflow

  # Explain every HPA in every namespace, as JSON
  kubectl mlflow explain-hpa -A -o json

  # Explain offline, before anything is deployed
  helm template mlflow community-charts/mlflow -f values.yaml | kubectl mlflow explain-hpa -f -

  # Explain a saved snapshot at a fixed time, with the controller's memory from a file
  kubectl mlflow explain-hpa -f snapshot/ --now 2026-12-04T10:00:00Z --memory memory.yaml`

// Options holds the flags and resolved state of explain-hpa.
type Options struct {
	ConfigFlags *genericclioptions.ConfigFlags
	genericiooptions.IOStreams

	Name          string
	AllNamespaces bool
	Filenames     []string
	Output        string
	NowText       string
	MemoryFile    string
	ShowPods      bool

	Tolerance                    float64
	CPUInitializationPeriod      time.Duration
	InitialReadinessDelay        time.Duration
	DownscaleStabilizationWindow time.Duration
	SyncPeriod                   time.Duration
	FeatureGates                 map[string]bool

	// Resolved by Complete.
	namespace string
	now       time.Time
	settings  hpa.ControllerSettings
	// readSnapshot reads the objects; tests replace it.
	readSnapshot func(ctx context.Context) (*snapshot.Snapshot, error)
	// requestCount returns the API requests sent by a live read, or nil offline.
	requestCount func() int64
}

// NewOptions returns Options with the kube-controller-manager v1.37 defaults.
func NewOptions(configFlags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *Options {
	defaults := hpa.DefaultSettings()
	return &Options{
		ConfigFlags:                  configFlags,
		IOStreams:                    streams,
		Tolerance:                    defaults.Tolerance,
		CPUInitializationPeriod:      defaults.CPUInitializationPeriod,
		InitialReadinessDelay:        defaults.InitialReadinessDelay,
		DownscaleStabilizationWindow: defaults.DownscaleStabilizationWindow,
		SyncPeriod:                   defaults.SyncPeriod,
	}
}

// NewCmdExplainHPA builds the explain-hpa command.
func NewCmdExplainHPA(configFlags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := NewOptions(configFlags, streams)
	c := &cobra.Command{
		Use:   "explain-hpa [NAME]",
		Short: "Explain the HPA controller's next decision, step by step",
		Long: `Runs the HorizontalPodAutoscaler controller's algorithm (kube-controller-manager v1.37) on the
HPA, its scale target, its pods and its metrics, and explains the next decision with the numbers:
every metric against its target, pod groups, tolerance, stabilization, rate limits, the min/max
clamp, the conditions and events the controller would write, and what the tool cannot see.

Without -f it reads the cluster (get and list only). With -f it reads manifests instead:
HorizontalPodAutoscaler, the scale target (Deployment, StatefulSet, ReplicaSet or a Scale),
Pods, PodMetrics, MetricValueList, ExternalMetricValueList and Events.

Exit status:
  0  a decision was computed for every HPA, or for at least one, with a warning on
     stderr that names the others
  1  no decision could be computed for any HPA, or the input, a flag or a request to
     the cluster was invalid or failed`,
		Example:           example,
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: firstArgument(completion.HPANames(configFlags)),
		SilenceUsage:      true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(cmd, args); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	flags := c.Flags()
	flags.BoolVarP(&o.AllNamespaces, "all-namespaces", "A", false, "Explain the HPAs of every namespace.")
	flags.StringSliceVarP(&o.Filenames, "filename", "f", nil, "Read objects from a manifest file, a directory, or - for stdin, instead of the cluster. Repeatable.")
	flags.StringVarP(&o.Output, "output", "o", "", "Output format: json or yaml. Default: text for people.")
	flags.StringVar(&o.NowText, "now", "", "Evaluation time in RFC 3339, for example 2026-12-04T10:00:00Z. Default: the current time.")
	flags.StringVar(&o.MemoryFile, "memory", "", "YAML or JSON file with the controller's in-memory recommendations and scale events (kind ControllerMemory, see docs/controller-memory.md).")
	flags.BoolVar(&o.ShowPods, "show-pods", false, "Show every pod's sample and request in the text output.")
	flags.Float64Var(&o.Tolerance, "tolerance", o.Tolerance, "Controller tolerance, as --horizontal-pod-autoscaler-tolerance (a ratio, 0.1 = 10%).")
	flags.DurationVar(&o.CPUInitializationPeriod, "cpu-initialization-period", o.CPUInitializationPeriod, "As --horizontal-pod-autoscaler-cpu-initialization-period.")
	flags.DurationVar(&o.InitialReadinessDelay, "initial-readiness-delay", o.InitialReadinessDelay, "As --horizontal-pod-autoscaler-initial-readiness-delay.")
	flags.DurationVar(&o.DownscaleStabilizationWindow, "downscale-stabilization", o.DownscaleStabilizationWindow, "As --horizontal-pod-autoscaler-downscale-stabilization.")
	flags.DurationVar(&o.SyncPeriod, "sync-period", o.SyncPeriod, "As --horizontal-pod-autoscaler-sync-period.")
	flags.Var(newFeatureGateFlag(&o.FeatureGates), "feature-gates", "Controller feature gates, as kube-controller-manager --feature-gates, for example HPAScaleToZero=false,PodLevelResources=true. Gates that do not change HPA decisions are ignored with a warning.")
	return c
}

// firstArgument completes only the first positional argument, the one HPA name explain-hpa takes.
func firstArgument(complete cobra.CompletionFunc) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return complete(cmd, args, toComplete)
	}
}

// Complete resolves the namespace, the evaluation time, the controller settings and the reader.
func (o *Options) Complete(_ *cobra.Command, args []string) error {
	if len(args) == 1 {
		o.Name = args[0]
	}

	namespace, explicit, err := o.ConfigFlags.ToRawKubeConfigLoader().Namespace()
	if err != nil && len(o.Filenames) == 0 {
		return fmt.Errorf("failed to read the namespace from the kubeconfig: %w", err)
	}
	if namespace == "" || (err != nil && !explicit) {
		namespace = "default"
	}
	if o.ConfigFlags.Namespace != nil && *o.ConfigFlags.Namespace != "" {
		namespace = *o.ConfigFlags.Namespace
	}
	o.namespace = namespace

	o.now = time.Now()
	if o.NowText != "" {
		o.now, err = time.Parse(time.RFC3339, o.NowText)
		if err != nil {
			return fmt.Errorf("invalid --now %q: use RFC 3339, for example 2026-12-04T10:00:00Z", o.NowText)
		}
	}

	o.settings = hpa.DefaultSettings()
	o.settings.Tolerance = o.Tolerance
	o.settings.CPUInitializationPeriod = o.CPUInitializationPeriod
	o.settings.InitialReadinessDelay = o.InitialReadinessDelay
	o.settings.DownscaleStabilizationWindow = o.DownscaleStabilizationWindow
	o.settings.SyncPeriod = o.SyncPeriod
	ignored, err := applyFeatureGates(&o.settings.FeatureGates, o.FeatureGates)
	if err != nil {
		return err
	}
	for _, warning := range ignored {
		fmt.Fprintf(o.ErrOut, "Warning: %s\n", warning)
	}

	if o.readSnapshot != nil {
		return nil
	}
	if len(o.Filenames) > 0 {
		o.readSnapshot = func(context.Context) (*snapshot.Snapshot, error) {
			return snapshot.ReadManifests(o.Filenames, snapshot.ManifestOptions{Namespace: o.namespace, Stdin: o.In})
		}
		return nil
	}
	reader, err := snapshot.NewLiveReader(o.ConfigFlags)
	if err != nil {
		return fmt.Errorf("failed to create the cluster clients: %w", err)
	}
	o.requestCount = reader.Requests
	o.readSnapshot = func(ctx context.Context) (*snapshot.Snapshot, error) {
		return reader.Read(ctx, snapshot.LiveOptions{Namespaces: []string{o.namespace}, AllNamespaces: o.AllNamespaces})
	}
	return nil
}

// Validate checks the flags without side effects.
func (o *Options) Validate() error {
	switch o.Output {
	case "", "json", "yaml":
	default:
		return fmt.Errorf("invalid --output %q: allowed formats are json and yaml (default: text)", o.Output)
	}
	if o.Name != "" && o.AllNamespaces {
		return errors.New("a NAME cannot be combined with --all-namespaces: give -n NAMESPACE instead")
	}
	if o.MemoryFile == snapshot.StdinSource && slices.Contains(o.Filenames, snapshot.StdinSource) {
		return errors.New(`--filename and --memory cannot both read stdin ("-"): write one of them to a file`)
	}
	if o.Tolerance < 0 {
		return fmt.Errorf("invalid --tolerance %v: it must be 0 or more", o.Tolerance)
	}
	for flag, d := range map[string]time.Duration{
		"--cpu-initialization-period": o.CPUInitializationPeriod,
		"--initial-readiness-delay":   o.InitialReadinessDelay,
		"--downscale-stabilization":   o.DownscaleStabilizationWindow,
		"--sync-period":               o.SyncPeriod,
	} {
		if d < 0 {
			return fmt.Errorf("invalid %s %v: it must not be negative", flag, d)
		}
	}
	return nil
}

// Run reads the objects, explains each selected HPA and prints the result.
func (o *Options) Run(ctx context.Context) error {
	if ctx == nil {
		ctx = context.Background()
	}
	snap, err := o.readSnapshot(ctx)
	if err != nil {
		return err
	}

	memories, err := o.loadMemory()
	if err != nil {
		return err
	}

	selected, err := o.selectHPAs(snap)
	if err != nil {
		return err
	}
	if o.MemoryFile != "" {
		warnUnmatchedMemory(o.ErrOut, o.memoryFileName(), memories, snap.HPAs)
	}

	items := make([]report.Item, 0, len(selected))
	var failed []string
	for i := range selected {
		h := &selected[i]
		memory, notes := snap.MemoryFor(h, memories, o.now)
		decision := hpa.Reconcile(snap.Input(h, o.now, o.settings, memory))
		item := report.Build(decision, report.Context{
			ScaleTargetRef: h.Spec.ScaleTargetRef,
			Behavior:       h.Spec.Behavior,
			EvaluatedAt:    o.now,
			Source:         snap.Source,
			Offline:        len(o.Filenames) > 0,
			Settings:       o.settings,
			MemorySource:   memorySource(h, memories, memory),
			Memory:         memory,
			Notes:          append(append([]string{}, snap.Notes...), notes...),
			Unavailable:    snap.Unavailable,
			HPA:            h,
		})
		items = append(items, item)
		if decision.Branch == hpa.BranchFailedGetScale || decision.MetricDesiredReplicas == -1 {
			failed = append(failed, h.Namespace+"/"+h.Name)
		}
	}

	if err := o.print(items); err != nil {
		return err
	}
	if o.requestCount != nil {
		klog.V(2).InfoS("Read the cluster", "apiRequests", o.requestCount(), "hpas", len(items))
	}
	switch {
	case len(failed) == len(items):
		return fmt.Errorf("no decision could be computed for %d HPA(s): see the errors above", len(items))
	case len(failed) > 0:
		// Some HPAs were explained, so the run succeeds, but a script reading the exit status
		// alone would miss the others.
		fmt.Fprintf(o.ErrOut, "Warning: %d of %d HPAs could not be explained: %s (see their errors above)\n",
			len(failed), len(items), strings.Join(failed, ", "))
	}
	return nil
}

// loadMemory reads --memory, when given, and rejects entries stored after the evaluation time.
func (o *Options) loadMemory() (map[types.NamespacedName]hpa.Memory, error) {
	if o.MemoryFile == "" {
		return map[types.NamespacedName]hpa.Memory{}, nil
	}
	memories, err := snapshot.LoadMemoryFile(o.MemoryFile, o.In)
	if err != nil {
		return nil, err
	}
	nowSource := "the current time"
	if o.NowText != "" {
		nowSource = "--now"
	}
	if err := checkMemoryTimes(o.memoryFileName(), memories, o.now, nowSource); err != nil {
		return nil, err
	}
	return memories, nil
}

// memoryFileName returns the name of the --memory file as errors and warnings show it.
func (o *Options) memoryFileName() string {
	if o.MemoryFile == snapshot.StdinSource {
		return "stdin"
	}
	return o.MemoryFile
}

// memorySource returns the origin of the controller memory of h, for the report.
func memorySource(h *autoscalingv2.HorizontalPodAutoscaler, memories map[types.NamespacedName]hpa.Memory, memory hpa.Memory) report.MemorySource {
	if _, found := memories[types.NamespacedName{Namespace: h.Namespace, Name: h.Name}]; found {
		return report.MemoryFromFile
	}
	if len(memory.ScaleUpEvents)+len(memory.ScaleDownEvents) > 0 {
		return report.MemoryRebuiltFromEvents
	}
	return report.MemoryAssumedFresh
}

// selectHPAs returns the HPAs to explain: the named one, or every HPA in scope.
func (o *Options) selectHPAs(snap *snapshot.Snapshot) ([]autoscalingv2.HorizontalPodAutoscaler, error) {
	var out []autoscalingv2.HorizontalPodAutoscaler
	for _, h := range snap.HPAs {
		if !o.AllNamespaces && h.Namespace != o.namespace {
			continue
		}
		if o.Name != "" && h.Name != o.Name {
			continue
		}
		out = append(out, h)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Namespace != out[j].Namespace {
			return out[i].Namespace < out[j].Namespace
		}
		return out[i].Name < out[j].Name
	})
	if len(out) > 0 {
		return out, nil
	}

	where := fmt.Sprintf("namespace %q", o.namespace)
	if o.AllNamespaces {
		where = "any namespace"
	}
	source := "the cluster"
	if len(o.Filenames) > 0 {
		source = "the manifests " + strings.Join(o.Filenames, ", ")
	}
	if o.Name != "" {
		return nil, fmt.Errorf("horizontalpodautoscaler %q not found in %s of %s: check the name, or pass -n NAMESPACE", o.Name, where, source)
	}
	return nil, fmt.Errorf("no HorizontalPodAutoscaler found in %s of %s: pass -n NAMESPACE or -A", where, source)
}

func (o *Options) print(items []report.Item) error {
	switch o.Output {
	case "json":
		data, err := json.MarshalIndent(report.NewExplanation(items), "", "  ")
		if err != nil {
			return fmt.Errorf("failed to encode the explanation as JSON: %w", err)
		}
		_, err = fmt.Fprintln(o.Out, string(data))
		return err
	case "yaml":
		data, err := yaml.Marshal(report.NewExplanation(items))
		if err != nil {
			return fmt.Errorf("failed to encode the explanation as YAML: %w", err)
		}
		_, err = o.Out.Write(data)
		return err
	}
	return report.WriteText(o.Out, items, report.TextOptions{Verbose: o.ShowPods})
}
