package conformance

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/kubectl-mlflow/kubectl-mlflow/pkg/hpa"
)

// caseDirs returns the folders of recorded cases: the shipped upstream recordings plus every
// folder named in HPA_CONFORMANCE_DIRS (a list separated by the OS path list separator), so that
// recordings of other Kubernetes versions run with no code change.
func caseDirs() []string {
	dirs := []string{filepath.Join("testdata", "upstream-v1.37.2")}
	if extra := os.Getenv("HPA_CONFORMANCE_DIRS"); extra != "" {
		for _, dir := range filepath.SplitList(extra) {
			if dir != "" {
				dirs = append(dirs, dir)
			}
		}
	}
	return dirs
}

func TestConformance(t *testing.T) {
	if total := runCaseDirs(t, caseDirs()); total == 0 {
		t.Fatal("no conformance cases ran")
	}
}

func TestExtraCaseDirsRun(t *testing.T) {
	// One recorded case in a folder of its own, named through HPA_CONFORMANCE_DIRS.
	data, err := os.ReadFile(filepath.Join("testdata", "upstream-v1.37.2", "grouping.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cases []json.RawMessage
	if err := json.Unmarshal(data, &cases); err != nil {
		t.Fatal(err)
	}
	extra := t.TempDir()
	one, err := json.Marshal(cases[:1])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(extra, "recorded.json"), one, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HPA_CONFORMANCE_DIRS", extra)

	dirs := caseDirs()
	if len(dirs) != 2 || dirs[1] != extra {
		t.Fatalf("case folders = %v, want the shipped one and %s", dirs, extra)
	}
	if ran := runCaseDirs(t, dirs[1:]); ran != 1 {
		t.Errorf("%d cases ran from %s, want 1", ran, extra)
	}
}

// runCaseDirs runs every case file of dirs as subtests and returns the number of cases run.
func runCaseDirs(t *testing.T, dirs []string) int {
	total := 0
	for _, dir := range dirs {
		files, err := filepath.Glob(filepath.Join(dir, "*.json"))
		if err != nil {
			t.Fatalf("invalid case folder %q: %v", dir, err)
		}
		if len(files) == 0 {
			t.Fatalf("case folder %q has no *.json files", dir)
		}
		sort.Strings(files)
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatalf("read %s: %v", file, err)
			}
			var cases []Case
			if err := json.Unmarshal(data, &cases); err != nil {
				t.Fatalf("%s: invalid case file: %v", file, err)
			}
			passed, ran := 0, 0
			t.Run(filepath.Base(dir)+"/"+filepath.Base(file), func(t *testing.T) {
				for _, c := range cases {
					started := false
					ok := t.Run(c.ID, func(t *testing.T) { started = true; runCase(t, c) })
					if started {
						ran++
					}
					if ok && started {
						passed++
					}
				}
			})
			if ran > 0 {
				t.Logf("%s: %d of %d cases passed", file, passed, ran)
			}
			total += ran
		}
	}
	return total
}

func runCase(t *testing.T, c Case) {
	switch {
	case c.Level == "metric":
		runMetricCase(t, c)
	case c.Level == "reconcile":
		runReconcileCase(t, c)
	case c.Step == "groupPods":
		runGroupPodsCase(t, c)
	case c.Step == "podRequests":
		runRequestsCase(t, c)
	case c.Step == "stabilizeWithBehavior":
		runStabilizeBehaviorCase(t, c)
	case c.Step == "rateLimitWithBehavior":
		runRateLimitBehaviorCase(t, c)
	case c.Step == "scaleUpLimit", c.Step == "scaleDownLimit":
		runLimitCase(t, c)
	case c.Step == "storeScaleEvent":
		runStoreEventCase(t, c)
	case c.Step == "stabilizeLegacy":
		runStabilizeLegacyCase(t, c)
	case c.Step == "rateLimitLegacy":
		runRateLimitLegacyCase(t, c)
	default:
		t.Fatalf("unknown case level %q step %q", c.Level, c.Step)
	}
}

func decode(t *testing.T, raw json.RawMessage, into any) {
	t.Helper()
	if err := json.Unmarshal(raw, into); err != nil {
		t.Fatalf("invalid case data: %v", err)
	}
}

type controllerData struct {
	Tolerance                            json.RawMessage `json:"tolerance"`
	CPUInitializationPeriodSeconds       float64         `json:"cpuInitializationPeriodSeconds"`
	DelayOfInitialReadinessStatusSeconds float64         `json:"delayOfInitialReadinessStatusSeconds"`
	DownscaleStabilizationWindowSeconds  float64         `json:"downscaleStabilizationWindowSeconds"`
	ScaleUpLimitFactor                   float64         `json:"scaleUpLimitFactor"`
	ScaleUpLimitMinimum                  float64         `json:"scaleUpLimitMinimum"`
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// tolerances reads either one number or {scaleUp, scaleDown}.
func (c controllerData) tolerances(t *testing.T) hpa.Tolerances {
	var single float64
	if err := json.Unmarshal(c.Tolerance, &single); err == nil {
		return hpa.Tolerances{ScaleUp: single, ScaleDown: single}
	}
	var both hpa.Tolerances
	decode(t, c.Tolerance, &both)
	return both
}

type metricInput struct {
	MetricSourceType string `json:"metricSourceType"`
	Target           struct {
		Type               string `json:"type"`
		AverageUtilization int32  `json:"averageUtilization"`
		AverageValueMilli  int64  `json:"averageValueMilli"`
		ValueMilli         int64  `json:"valueMilli"`
	} `json:"target"`
	Controller      controllerData                            `json:"controller"`
	FeatureGates    hpa.FeatureGates                          `json:"featureGates"`
	CurrentReplicas int32                                     `json:"currentReplicas"`
	StatusReplicas  int32                                     `json:"statusReplicas"`
	Resource        string                                    `json:"resource"`
	Container       string                                    `json:"container"`
	MetricName      string                                    `json:"metricName"`
	DescribedObject autoscalingv2.CrossVersionObjectReference `json:"describedObject"`
	MetricSelector  *metav1.LabelSelector                     `json:"metricSelector"`
	Pods            []PodData                                 `json:"pods"`
	MetricsAPI      []MetricsResponse                         `json:"metricsAPI"`
}

type metricObserved struct {
	Replicas        int32   `json:"replicas"`
	Utilization     *int32  `json:"utilization"`
	RawAverageMilli *int64  `json:"rawAverageMilli"`
	UsageMilli      *int64  `json:"usageMilli"`
	Timestamp       Age     `json:"timestamp"`
	Error           *string `json:"error"`
}

func runMetricCase(t *testing.T, c Case) {
	var in metricInput
	var obs metricObserved
	decode(t, c.Input, &in)
	decode(t, c.Observed, &obs)

	metricSelector, err := metav1.LabelSelectorAsSelector(in.MetricSelector)
	if err != nil {
		t.Fatalf("invalid metricSelector: %v", err)
	}
	calc := &hpa.Calculator{
		Namespace:               "test-namespace",
		Selector:                labels.Everything(),
		Pods:                    Pods(in.Pods, "test-namespace"),
		Metrics:                 NewRecordedMetrics(in.MetricsAPI),
		Tolerances:              in.Controller.tolerances(t),
		CPUInitializationPeriod: seconds(in.Controller.CPUInitializationPeriodSeconds),
		InitialReadinessDelay:   seconds(in.Controller.DelayOfInitialReadinessStatusSeconds),
		PodLevelResources:       in.FeatureGates.PodLevelResources,
		Now:                     Now,
	}
	resourceName := corev1.ResourceName(in.Resource)
	var tr hpa.MetricTrace
	switch {
	case (in.MetricSourceType == "Resource" || in.MetricSourceType == "ContainerResource") && in.Target.Type == "Utilization":
		tr = calc.ResourceUtilization(in.CurrentReplicas, in.Target.AverageUtilization, resourceName, in.Container)
	case in.MetricSourceType == "Resource" || in.MetricSourceType == "ContainerResource":
		tr = calc.ResourceAverageValue(in.CurrentReplicas, in.Target.AverageValueMilli, resourceName, in.Container)
	case in.MetricSourceType == "Pods":
		tr = calc.PodsAverageValue(in.CurrentReplicas, in.Target.AverageValueMilli, in.MetricName, metricSelector)
	case in.MetricSourceType == "Object" && in.Target.Type == "Value":
		tr = calc.ObjectValue(in.CurrentReplicas, in.Target.ValueMilli, in.MetricName, in.DescribedObject, metricSelector)
	case in.MetricSourceType == "Object":
		tr = calc.ObjectAverageValue(in.StatusReplicas, in.Target.AverageValueMilli, in.MetricName, in.DescribedObject, metricSelector)
	case in.MetricSourceType == "External" && in.Target.Type == "Value":
		tr = calc.ExternalValue(in.CurrentReplicas, in.Target.ValueMilli, in.MetricName, in.MetricSelector)
	case in.MetricSourceType == "External":
		tr = calc.ExternalAverageValue(in.StatusReplicas, in.Target.AverageValueMilli, in.MetricName, in.MetricSelector)
	default:
		t.Fatalf("unknown metric source %q target %q", in.MetricSourceType, in.Target.Type)
	}

	if obs.Error != nil {
		if tr.Error != *obs.Error {
			t.Errorf("error = %q, want %q", tr.Error, *obs.Error)
		}
		return
	}
	if tr.Err != nil {
		t.Fatalf("unexpected error: %v", tr.Err)
	}
	if tr.Proposal != obs.Replicas {
		t.Errorf("replicas = %d, want %d (rule %s)", tr.Proposal, obs.Replicas, tr.Rule)
	}
	if obs.Utilization != nil {
		if tr.First.Utilization == nil || *tr.First.Utilization != *obs.Utilization {
			t.Errorf("utilization = %v, want %d", deref(tr.First.Utilization), *obs.Utilization)
		}
	}
	if obs.RawAverageMilli != nil {
		if tr.First.AverageMilli == nil || *tr.First.AverageMilli != *obs.RawAverageMilli {
			t.Errorf("raw average = %v, want %d", deref(tr.First.AverageMilli), *obs.RawAverageMilli)
		}
	}
	if obs.UsageMilli != nil {
		usage := tr.First.AverageMilli
		if tr.Calculation == hpa.CalculationObjectValue || tr.Calculation == hpa.CalculationExternalValue {
			usage = tr.First.ValueMilli
		}
		if usage == nil || *usage != *obs.UsageMilli {
			t.Errorf("usage = %v, want %d", deref(usage), *obs.UsageMilli)
		}
	}
	checkTime(t, "metric timestamp", tr.Timestamp, obs.Timestamp)
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

func checkTime(t *testing.T, what string, got time.Time, want Age) {
	t.Helper()
	if want.Zero || !want.Set {
		if !got.IsZero() {
			t.Errorf("%s = %v, want the zero time", what, got)
		}
		return
	}
	age, ok := AgeOf(got)
	if !ok || math.Abs(age-want.Secs) > 0.0015 {
		t.Errorf("%s age = %v s, want %v s", what, age, want.Secs)
	}
}

func runGroupPodsCase(t *testing.T, c Case) {
	var in struct {
		Pods    []PodData `json:"pods"`
		Metrics map[string]struct {
			ValueMilli    int64 `json:"valueMilli"`
			Timestamp     Age   `json:"timestamp"`
			WindowSeconds int64 `json:"windowSeconds"`
		} `json:"metrics"`
		Resource   string         `json:"resource"`
		Controller controllerData `json:"controller"`
	}
	var obs struct {
		ReadyPodCount int      `json:"readyPodCount"`
		UnreadyPods   []string `json:"unreadyPods"`
		MissingPods   []string `json:"missingPods"`
		IgnoredPods   []string `json:"ignoredPods"`
	}
	decode(t, c.Input, &in)
	decode(t, c.Observed, &obs)
	metrics := hpa.PodMetricsInfo{}
	for name, m := range in.Metrics {
		metrics[name] = hpa.PodMetric{Value: m.ValueMilli, Timestamp: m.Timestamp.Time(), Window: time.Duration(m.WindowSeconds) * time.Second}
	}
	groups := hpa.GroupPods(Pods(in.Pods, ""), metrics, corev1.ResourceName(in.Resource),
		seconds(in.Controller.CPUInitializationPeriodSeconds), seconds(in.Controller.DelayOfInitialReadinessStatusSeconds), Now)
	if groups.ReadyCount != obs.ReadyPodCount {
		t.Errorf("ready count = %d, want %d", groups.ReadyCount, obs.ReadyPodCount)
	}
	compareNames(t, "unready", groups.Unready, obs.UnreadyPods)
	compareNames(t, "missing", groups.Missing, obs.MissingPods)
	compareNames(t, "ignored", groups.Ignored, obs.IgnoredPods)
}

func compareNames(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !reflect.DeepEqual(SortedOrEmpty(got), SortedOrEmpty(want)) {
		t.Errorf("%s pods = %v, want %v", what, got, want)
	}
}

func runRequestsCase(t *testing.T, c Case) {
	var in struct {
		FeatureGates hpa.FeatureGates `json:"featureGates"`
		Pods         []PodData        `json:"pods"`
		Container    string           `json:"container"`
		Resource     string           `json:"resource"`
	}
	var obs struct {
		RequestsMilli map[string]int64 `json:"requestsMilli"`
		Error         *string          `json:"error"`
	}
	decode(t, c.Input, &in)
	decode(t, c.Observed, &obs)
	got, err := hpa.PodRequests(Pods(in.Pods, ""), in.Container, corev1.ResourceName(in.Resource), in.FeatureGates.PodLevelResources)
	if obs.Error != nil {
		if err == nil || err.Error() != *obs.Error {
			t.Errorf("error = %v, want %q", err, *obs.Error)
		}
		return
	}
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	if len(got) != len(obs.RequestsMilli) {
		t.Errorf("requests = %v, want %v", got, obs.RequestsMilli)
	}
	for pod, want := range obs.RequestsMilli {
		if got[pod] != want {
			t.Errorf("request of %s = %d, want %d", pod, got[pod], want)
		}
	}
}

type limitedData struct {
	Replicas int32  `json:"replicas"`
	Reason   string `json:"reason"`
	Message  string `json:"message"`
}

func checkLimited(t *testing.T, got hpa.Limited, want limitedData) {
	t.Helper()
	if got.Replicas != want.Replicas {
		t.Errorf("replicas = %d, want %d", got.Replicas, want.Replicas)
	}
	if got.Reason != want.Reason {
		t.Errorf("reason = %q, want %q", got.Reason, want.Reason)
	}
	if got.Message != want.Message {
		t.Errorf("message = %q, want %q", got.Message, want.Message)
	}
}

func checkRecommendations(t *testing.T, got []hpa.Recommendation, want StateData) {
	t.Helper()
	gotPairs, wantPairs := RecommendationPairs(got), want.Recorded()
	if len(gotPairs) != len(wantPairs) {
		t.Fatalf("stored recommendations = %v, want %v", gotPairs, wantPairs)
	}
	for i := range wantPairs {
		if gotPairs[i][0] != wantPairs[i][0] || math.Abs(gotPairs[i][1]-wantPairs[i][1]) > 0.0015 {
			t.Errorf("stored recommendation %d = %v, want %v", i, gotPairs[i], wantPairs[i])
		}
	}
}

func runStabilizeBehaviorCase(t *testing.T, c Case) {
	var in struct {
		Args struct {
			CurrentReplicas int32 `json:"currentReplicas"`
			DesiredReplicas int32 `json:"desiredReplicas"`
			ScaleUp         struct {
				StabilizationWindowSeconds int32 `json:"stabilizationWindowSeconds"`
			} `json:"scaleUp"`
			ScaleDown struct {
				StabilizationWindowSeconds int32 `json:"stabilizationWindowSeconds"`
			} `json:"scaleDown"`
		} `json:"args"`
		State StateData `json:"state"`
	}
	var obs struct {
		Result               limitedData `json:"result"`
		ControllerStateAfter StateData   `json:"controllerStateAfter"`
	}
	decode(t, c.Input, &in)
	decode(t, c.Observed, &obs)
	got, stored, _ := hpa.StabilizeWithBehavior(in.State.Memory().Recommendations, in.Args.CurrentReplicas, in.Args.DesiredReplicas,
		time.Duration(in.Args.ScaleUp.StabilizationWindowSeconds)*time.Second, time.Duration(in.Args.ScaleDown.StabilizationWindowSeconds)*time.Second, Now)
	checkLimited(t, got, obs.Result)
	checkRecommendations(t, stored, obs.ControllerStateAfter)
}

func runRateLimitBehaviorCase(t *testing.T, c Case) {
	var in struct {
		Args struct {
			CurrentReplicas int32                          `json:"currentReplicas"`
			DesiredReplicas int32                          `json:"desiredReplicas"`
			MinReplicas     int32                          `json:"minReplicas"`
			MaxReplicas     int32                          `json:"maxReplicas"`
			ScaleUp         *autoscalingv2.HPAScalingRules `json:"scaleUp"`
			ScaleDown       *autoscalingv2.HPAScalingRules `json:"scaleDown"`
		} `json:"args"`
		State StateData `json:"state"`
	}
	var obs struct {
		Result limitedData `json:"result"`
	}
	decode(t, c.Input, &in)
	decode(t, c.Observed, &obs)
	memory := in.State.Memory()
	got, _ := hpa.RateLimitWithBehavior(in.Args.CurrentReplicas, in.Args.DesiredReplicas, in.Args.MinReplicas, in.Args.MaxReplicas,
		in.Args.ScaleUp, in.Args.ScaleDown, memory.ScaleUpEvents, memory.ScaleDownEvents, Now)
	checkLimited(t, got, obs.Result)
}

func runLimitCase(t *testing.T, c Case) {
	var in struct {
		Args struct {
			CurrentReplicas int32                          `json:"currentReplicas"`
			ScaleUpEvents   []EventData                    `json:"scaleUpEvents"`
			ScaleDownEvents []EventData                    `json:"scaleDownEvents"`
			Rules           *autoscalingv2.HPAScalingRules `json:"rules"`
		} `json:"args"`
	}
	var obs struct {
		Result int32 `json:"result"`
	}
	decode(t, c.Input, &in)
	decode(t, c.Observed, &obs)
	var got int32
	if c.Step == "scaleUpLimit" {
		got, _ = hpa.ScaleUpLimit(in.Args.CurrentReplicas, events(in.Args.ScaleUpEvents), events(in.Args.ScaleDownEvents), in.Args.Rules, Now)
	} else {
		got, _ = hpa.ScaleDownLimit(in.Args.CurrentReplicas, events(in.Args.ScaleUpEvents), events(in.Args.ScaleDownEvents), in.Args.Rules, Now)
	}
	if got != obs.Result {
		t.Errorf("%s = %d, want %d", c.Step, got, obs.Result)
	}
}

func runStoreEventCase(t *testing.T, c Case) {
	var in struct {
		Args struct {
			PrevReplicas int32 `json:"prevReplicas"`
			NewReplicas  int32 `json:"newReplicas"`
		} `json:"args"`
		Behavior *autoscalingv2.HorizontalPodAutoscalerBehavior `json:"behavior"`
		State    StateData                                      `json:"state"`
	}
	var obs struct {
		ControllerStateAfter StateData `json:"controllerStateAfter"`
	}
	decode(t, c.Input, &in)
	decode(t, c.Observed, &obs)
	after := hpa.StoreScaleEvent(in.State.Memory(), in.Behavior, in.Args.PrevReplicas, in.Args.NewReplicas, Now)
	checkEvents(t, "scale-up", after.ScaleUpEvents, obs.ControllerStateAfter.ScaleUpEvents)
	checkEvents(t, "scale-down", after.ScaleDownEvents, obs.ControllerStateAfter.ScaleDownEvents)
}

func checkEvents(t *testing.T, what string, got []hpa.ScaleEvent, want []EventData) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s events = %+v, want %+v", what, got, want)
	}
	for i := range want {
		if got[i].ReplicaChange != want[i].ReplicaChange {
			t.Errorf("%s event %d replica change = %d, want %d", what, i, got[i].ReplicaChange, want[i].ReplicaChange)
		}
		if got[i].Outdated != want[i].Outdated {
			t.Errorf("%s event %d outdated = %v, want %v", what, i, got[i].Outdated, want[i].Outdated)
		}
		checkTime(t, fmt.Sprintf("%s event %d timestamp", what, i), got[i].Timestamp, want[i].Age)
	}
}

func runStabilizeLegacyCase(t *testing.T, c Case) {
	var in struct {
		Args struct {
			DesiredReplicas int32 `json:"desiredReplicas"`
		} `json:"args"`
		State  StateData      `json:"state"`
		Config controllerData `json:"config"`
	}
	var obs struct {
		Result               int32     `json:"result"`
		ControllerStateAfter StateData `json:"controllerStateAfter"`
	}
	decode(t, c.Input, &in)
	decode(t, c.Observed, &obs)
	got, stored, _ := hpa.StabilizeLegacy(in.State.Memory().Recommendations, in.Args.DesiredReplicas, seconds(in.Config.DownscaleStabilizationWindowSeconds), Now)
	if got != obs.Result {
		t.Errorf("stabilized = %d, want %d", got, obs.Result)
	}
	checkRecommendations(t, stored, obs.ControllerStateAfter)
}

func runRateLimitLegacyCase(t *testing.T, c Case) {
	var in struct {
		Args struct {
			CurrentReplicas int32 `json:"currentReplicas"`
			DesiredReplicas int32 `json:"desiredReplicas"`
			MinReplicas     int32 `json:"minReplicas"`
			MaxReplicas     int32 `json:"maxReplicas"`
		} `json:"args"`
		Config controllerData `json:"config"`
	}
	var obs struct {
		Result limitedData `json:"result"`
	}
	decode(t, c.Input, &in)
	decode(t, c.Observed, &obs)
	got := hpa.RateLimitLegacy(in.Args.CurrentReplicas, in.Args.DesiredReplicas, in.Args.MinReplicas, in.Args.MaxReplicas, in.Config.ScaleUpLimitFactor, in.Config.ScaleUpLimitMinimum)
	checkLimited(t, got, obs.Result)
}

type reconcileInput struct {
	FeatureGates hpa.FeatureGates                       `json:"featureGates"`
	Controller   controllerData                         `json:"controller"`
	HPA          *autoscalingv2.HorizontalPodAutoscaler `json:"hpa"`
	Scale        struct {
		SpecReplicas   int32   `json:"specReplicas"`
		StatusReplicas int32   `json:"statusReplicas"`
		Selector       string  `json:"selector"`
		Error          *string `json:"error"`
	} `json:"scale"`
	Pods            []PodData         `json:"pods"`
	MetricsAPI      []MetricsResponse `json:"metricsAPI"`
	ControllerState StateData         `json:"controllerState"`
}

type conditionData struct {
	Type    string `json:"type"`
	Status  string `json:"status"`
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

type reconcileObserved struct {
	Status struct {
		CurrentReplicas  int32           `json:"currentReplicas"`
		DesiredReplicas  int32           `json:"desiredReplicas"`
		CurrentMetrics   json.RawMessage `json:"currentMetrics"`
		LastScaleTimeSet bool            `json:"lastScaleTimeSet"`
		Conditions       []conditionData `json:"conditions"`
	} `json:"status"`
	Events          []hpa.Event `json:"events"`
	MetricsCombined *struct {
		Replicas int32 `json:"replicas"`
	} `json:"metricsCombined"`
	ScaleUpdated         bool      `json:"scaleUpdated"`
	ReconcileError       *string   `json:"reconcileError"`
	ControllerStateAfter StateData `json:"controllerStateAfter"`
}

func runReconcileCase(t *testing.T, c Case) {
	var in reconcileInput
	var obs reconcileObserved
	decode(t, c.Input, &in)
	decode(t, c.Observed, &obs)

	settings := hpa.DefaultSettings()
	tol := in.Controller.tolerances(t)
	settings.Tolerance = tol.ScaleUp
	settings.CPUInitializationPeriod = seconds(in.Controller.CPUInitializationPeriodSeconds)
	settings.InitialReadinessDelay = seconds(in.Controller.DelayOfInitialReadinessStatusSeconds)
	settings.DownscaleStabilizationWindow = seconds(in.Controller.DownscaleStabilizationWindowSeconds)
	settings.ScaleUpLimitFactor = in.Controller.ScaleUpLimitFactor
	settings.ScaleUpLimitMinimum = in.Controller.ScaleUpLimitMinimum
	settings.FeatureGates.HPAScaleToZero = in.FeatureGates.HPAScaleToZero
	settings.FeatureGates.HPAConfigurableTolerance = in.FeatureGates.HPAConfigurableTolerance
	settings.FeatureGates.PodLevelResources = in.FeatureGates.PodLevelResources

	input := hpa.Input{
		HPA:      in.HPA,
		Scale:    hpa.Scale{SpecReplicas: in.Scale.SpecReplicas, StatusReplicas: in.Scale.StatusReplicas, Selector: in.Scale.Selector},
		Pods:     Pods(in.Pods, in.HPA.Namespace),
		Metrics:  NewRecordedMetrics(in.MetricsAPI),
		Memory:   in.ControllerState.Memory(),
		Now:      Now,
		Settings: settings,
	}
	if in.Scale.Error != nil {
		input.ScaleError = fmt.Errorf("%s", *in.Scale.Error)
	}
	// The recordings do not carry a failure injected into the scale update, only its result:
	// take the injected error from the recorded reconcile error, and check everything else.
	const rescaleFailure = "failed to rescale "
	if obs.ReconcileError != nil && strings.HasPrefix(*obs.ReconcileError, rescaleFailure) {
		if _, injected, ok := strings.Cut(*obs.ReconcileError, ": "); ok {
			input.ScaleUpdateError = fmt.Errorf("%s", injected)
		}
	}
	d := hpa.Reconcile(input)

	if d.Status.DesiredReplicas != obs.Status.DesiredReplicas {
		t.Errorf("status.desiredReplicas = %d, want %d", d.Status.DesiredReplicas, obs.Status.DesiredReplicas)
	}
	if d.Status.CurrentReplicas != obs.Status.CurrentReplicas {
		t.Errorf("status.currentReplicas = %d, want %d", d.Status.CurrentReplicas, obs.Status.CurrentReplicas)
	}
	if d.Rescale != obs.ScaleUpdated {
		t.Errorf("scale updated = %v, want %v", d.Rescale, obs.ScaleUpdated)
	}
	// lastScaleTimeSet records whether this reconcile changed status.lastScaleTime at the API's
	// one-second precision. A rescale within the same second as the recorded previous
	// lastScaleTime shows as unchanged, so "false" is only checked when there was none before.
	setByReconcile := d.Rescale && d.Status.LastScaleTime != nil
	if obs.Status.LastScaleTimeSet && !setByReconcile {
		t.Errorf("lastScaleTime was not set, want it set by this reconcile")
	}
	if !obs.Status.LastScaleTimeSet && setByReconcile && in.HPA.Status.LastScaleTime == nil {
		t.Errorf("lastScaleTime was set, want it unchanged")
	}
	if obs.MetricsCombined != nil && d.MetricDesiredReplicas != obs.MetricsCombined.Replicas {
		t.Errorf("combined metric replicas = %d, want %d", d.MetricDesiredReplicas, obs.MetricsCombined.Replicas)
	}

	var gotConditions []conditionData
	for _, cond := range d.Status.Conditions {
		gotConditions = append(gotConditions, conditionData{Type: string(cond.Type), Status: string(cond.Status), Reason: cond.Reason, Message: cond.Message})
	}
	if !reflect.DeepEqual(gotConditions, obs.Status.Conditions) {
		t.Errorf("conditions:\n got %+v\nwant %+v", gotConditions, obs.Status.Conditions)
	}
	if !reflect.DeepEqual(nonNilEvents(d.Events), nonNilEvents(obs.Events)) {
		t.Errorf("events:\n got %+v\nwant %+v", d.Events, obs.Events)
	}

	wantError := ""
	if obs.ReconcileError != nil {
		wantError = *obs.ReconcileError
	}
	if d.Error != wantError {
		t.Errorf("reconcile error = %q, want %q", d.Error, wantError)
	}

	gotMetrics, err := json.Marshal(d.Status.CurrentMetrics)
	if err != nil {
		t.Fatal(err)
	}
	if !jsonEqual(t, gotMetrics, obs.Status.CurrentMetrics) {
		t.Errorf("currentMetrics:\n got %s\nwant %s", gotMetrics, obs.Status.CurrentMetrics)
	}

	checkRecommendations(t, d.MemoryAfter.Recommendations, obs.ControllerStateAfter)
	checkEvents(t, "scale-up", d.MemoryAfter.ScaleUpEvents, obs.ControllerStateAfter.ScaleUpEvents)
	checkEvents(t, "scale-down", d.MemoryAfter.ScaleDownEvents, obs.ControllerStateAfter.ScaleDownEvents)
}

func nonNilEvents(events []hpa.Event) []hpa.Event {
	if events == nil {
		return []hpa.Event{}
	}
	return events
}

// jsonEqual compares two JSON documents by value; null and an empty list are equal.
func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatal(err)
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		b = []byte("null")
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatal(err)
	}
	if isEmpty(x) && isEmpty(y) {
		return true
	}
	return reflect.DeepEqual(x, y)
}

func isEmpty(v any) bool {
	if v == nil {
		return true
	}
	list, ok := v.([]any)
	return ok && len(list) == 0
}
