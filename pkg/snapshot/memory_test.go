package snapshot

import (
	"strconv"
	"strings"
	"testing"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kubectl-mlflow/kubectl-mlflow/pkg/hpa"
)

var memoryTestNow = time.Date(2026, 12, 4, 10, 0, 30, 0, time.UTC)

func TestLoadMemoryFile(t *testing.T) {
	memories, err := LoadMemoryFile("testdata/memory.yaml", nil)
	if err != nil {
		t.Fatalf("LoadMemoryFile: %v", err)
	}
	memory, found := memories[types.NamespacedName{Namespace: "mlflow", Name: "mlflow"}]
	if !found {
		t.Fatalf("no memory for mlflow/mlflow in %v", memories)
	}
	wantRecommendations := []hpa.Recommendation{
		{Replicas: 4, Timestamp: time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)},
		{Replicas: 3, Timestamp: time.Date(2026, 12, 4, 10, 0, 15, 0, time.UTC)},
	}
	if len(memory.Recommendations) != len(wantRecommendations) {
		t.Fatalf("recommendations = %v, want %v", memory.Recommendations, wantRecommendations)
	}
	for i, want := range wantRecommendations {
		got := memory.Recommendations[i]
		if got.Replicas != want.Replicas || !got.Timestamp.Equal(want.Timestamp) {
			t.Errorf("recommendations[%d] = %v, want %v", i, got, want)
		}
	}
	if len(memory.ScaleUpEvents) != 1 || memory.ScaleUpEvents[0].ReplicaChange != 2 {
		t.Errorf("scale-up events = %v, want one change of 2", memory.ScaleUpEvents)
	}
	if len(memory.ScaleDownEvents) != 0 {
		t.Errorf("scale-down events = %v, want none", memory.ScaleDownEvents)
	}
}

func TestParseMemoryErrors(t *testing.T) {
	tests := []struct {
		name     string
		data     string
		wantText []string
	}{
		{
			name:     "negative replicas",
			data:     "apiVersion: kubectl-mlflow.io/v1alpha1\nkind: ControllerMemory\nhpas:\n- {name: web, recommendations: [{replicas: -1, timestamp: \"2026-12-04T10:00:00Z\"}]}\n",
			wantText: []string{"mem.yaml: hpas[0].recommendations[0]: replicas is -1"},
		},
		{
			name:     "bad timestamp",
			data:     "apiVersion: kubectl-mlflow.io/v1alpha1\nkind: ControllerMemory\nhpas:\n- {name: web, scaleUpEvents: [{replicaChange: 1, timestamp: yesterday}]}\n",
			wantText: []string{`hpas[0].scaleUpEvents[0]: timestamp "yesterday" is invalid`},
		},
		{
			name:     "missing timestamp",
			data:     "apiVersion: kubectl-mlflow.io/v1alpha1\nkind: ControllerMemory\nhpas:\n- {name: web, scaleDownEvents: [{replicaChange: 1}]}\n",
			wantText: []string{"hpas[0].scaleDownEvents[0]: timestamp is missing"},
		},
		{
			name:     "wrong kind",
			data:     "apiVersion: v1\nkind: ConfigMap\n",
			wantText: []string{`kind "ConfigMap" are not supported`},
		},
		{
			name: "misspelt field of an entry",
			data: "apiVersion: kubectl-mlflow.io/v1alpha1\nkind: ControllerMemory\nhpas:\n- {name: web, recomendations: []}\n",
			wantText: []string{
				`mem.yaml: unknown field "recomendations" in hpas[0]`,
				"the valid fields there are namespace, name, recommendations, scaleUpEvents, scaleDownEvents",
			},
		},
		{
			name: "misspelt field of a scale event",
			data: "apiVersion: kubectl-mlflow.io/v1alpha1\nkind: ControllerMemory\nhpas:\n- {name: web, scaleDownEvents: [{replicaChang: 1, timestamp: \"2026-12-04T10:00:00Z\"}]}\n",
			wantText: []string{
				`mem.yaml: unknown field "replicaChang" in hpas[0].scaleDownEvents[0]`,
				"the valid fields there are replicaChange, timestamp",
			},
		},
		{
			name: "misspelt field of a recommendation",
			data: "apiVersion: kubectl-mlflow.io/v1alpha1\nkind: ControllerMemory\nhpas:\n- {name: web, recommendations: [{replica: 1, timestamp: \"2026-12-04T10:00:00Z\"}]}\n",
			wantText: []string{
				`mem.yaml: unknown field "replica" in hpas[0].recommendations[0]`,
				"the valid fields there are replicas, timestamp",
			},
		},
		{
			name: "misspelt top-level field",
			data: "apiVersion: kubectl-mlflow.io/v1alpha1\nkind: ControllerMemory\nhpa: []\n",
			wantText: []string{
				`mem.yaml: unknown field "hpa" at the top level`,
				"the valid fields there are apiVersion, kind, hpas",
			},
		},
		{
			name:     "unknown field reported with other problems",
			data:     "apiVersion: kubectl-mlflow.io/v1alpha1\nkind: ControllerMemory\nhpas:\n- {name: web, recomendations: []}\n- {namespace: shop}\n",
			wantText: []string{`unknown field "recomendations"`, "hpas[1]: name is missing"},
		},
		{
			name:     "string for replicas",
			data:     "apiVersion: kubectl-mlflow.io/v1alpha1\nkind: ControllerMemory\nhpas:\n- {name: web, recommendations: [{replicas: many, timestamp: \"2026-12-04T10:00:00Z\"}]}\n",
			wantText: []string{"mem.yaml: invalid controller memory file: hpas.recommendations.replicas is a string: give a whole number"},
		},
		{
			name:     "list instead of a mapping",
			data:     "- apiVersion: kubectl-mlflow.io/v1alpha1\n",
			wantText: []string{"mem.yaml: invalid controller memory file: the file contains a list: give a mapping with the fields apiVersion, kind, hpas"},
		},
		{
			name:     "fraction for replicas",
			data:     "apiVersion: kubectl-mlflow.io/v1alpha1\nkind: ControllerMemory\nhpas:\n- {name: web, recommendations: [{replicas: 1.5, timestamp: \"2026-12-04T10:00:00Z\"}]}\n",
			wantText: []string{"hpas.recommendations.replicas is the number 1.5: give a whole number"},
		},
		{
			name:     "duplicate key",
			data:     "apiVersion: kubectl-mlflow.io/v1alpha1\nkind: ControllerMemory\nhpas:\n- {name: web, name: api}\n",
			wantText: []string{"mem.yaml: invalid controller memory file:", `key "name" already set`},
		},
		{
			name:     "zero replica change",
			data:     "apiVersion: kubectl-mlflow.io/v1alpha1\nkind: ControllerMemory\nhpas:\n- {name: web, scaleUpEvents: [{replicaChange: 1, timestamp: \"2026-12-04T10:00:00Z\"}, {replicaChange: 0, timestamp: \"2026-12-04T10:00:15Z\"}]}\n",
			wantText: []string{"mem.yaml: hpas[0].scaleUpEvents[1].replicaChange is 0: give the absolute change of a rescale, 1 or more"},
		},
		{
			name:     "negative replica change",
			data:     "apiVersion: kubectl-mlflow.io/v1alpha1\nkind: ControllerMemory\nhpas:\n- {name: web, scaleDownEvents: [{replicaChange: -1, timestamp: \"2026-12-04T10:00:00Z\"}]}\n",
			wantText: []string{"mem.yaml: hpas[0].scaleDownEvents[0].replicaChange is -1: give the absolute change of a rescale, 1 or more"},
		},
		{
			name:     "missing replica change",
			data:     "apiVersion: kubectl-mlflow.io/v1alpha1\nkind: ControllerMemory\nhpas:\n- {name: web, scaleUpEvents: [{timestamp: \"2026-12-04T10:00:00Z\"}]}\n",
			wantText: []string{"mem.yaml: hpas[0].scaleUpEvents[0].replicaChange is 0"},
		},
		{
			name:     "missing name",
			data:     "apiVersion: kubectl-mlflow.io/v1alpha1\nkind: ControllerMemory\nhpas:\n- {namespace: web}\n",
			wantText: []string{"hpas[0]: name is missing"},
		},
		{
			name:     "duplicate HPA",
			data:     "apiVersion: kubectl-mlflow.io/v1alpha1\nkind: ControllerMemory\nhpas:\n- {name: web}\n- {name: web, namespace: default}\n",
			wantText: []string{"hpas[1]: HPA default/web is listed twice"},
		},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			_, err := ParseMemory("mem.yaml", []byte(test.data))
			if err == nil {
				t.Fatal("ParseMemory returned no error")
			}
			for _, want := range test.wantText {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error does not contain %q:\n%v", want, err)
				}
			}
			// The file may be YAML, so the decoder's JSON terms must not leak into the message.
			if strings.Contains(err.Error(), "JSON") || strings.Contains(err.Error(), "json:") {
				t.Errorf("error mentions JSON:\n%v", err)
			}
		})
	}
}

func rescaleEvent(name string, size int, last time.Time) corev1.Event {
	return corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: name, Namespace: "mlflow"},
		InvolvedObject: corev1.ObjectReference{Kind: "HorizontalPodAutoscaler", Namespace: "mlflow", Name: "mlflow"},
		Reason:         "SuccessfulRescale",
		Message:        "New size: " + strconv.Itoa(size) + "; reason: cpu resource utilization (percentage of request) above target",
		Count:          1,
		FirstTimestamp: metav1.NewTime(last),
		LastTimestamp:  metav1.NewTime(last),
	}
}

func testHPA(currentReplicas int32) *autoscalingv2.HorizontalPodAutoscaler {
	return &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Namespace: "mlflow", Name: "mlflow"},
		Status:     autoscalingv2.HorizontalPodAutoscalerStatus{CurrentReplicas: currentReplicas},
	}
}

func TestRebuildScaleEvents(t *testing.T) {
	base := memoryTestNow.Add(-10 * time.Minute)
	events := []corev1.Event{
		rescaleEvent("c", 3, base.Add(4*time.Minute)), // listed out of time order
		rescaleEvent("a", 2, base),
		rescaleEvent("b", 5, base.Add(2*time.Minute)),
		{ // another reason
			InvolvedObject: corev1.ObjectReference{Kind: "HorizontalPodAutoscaler", Namespace: "mlflow", Name: "mlflow"},
			Reason:         "FailedGetScale",
			LastTimestamp:  metav1.NewTime(base.Add(time.Minute)),
		},
		func() corev1.Event { // another HPA
			event := rescaleEvent("x", 9, base.Add(3*time.Minute))
			event.InvolvedObject.Name = "other"
			return event
		}(),
	}

	rebuilt := RebuildScaleEvents(testHPA(3), events, memoryTestNow)

	wantUp := []hpa.ScaleEvent{{ReplicaChange: 3, Timestamp: base.Add(2 * time.Minute)}}
	wantDown := []hpa.ScaleEvent{{ReplicaChange: 2, Timestamp: base.Add(4 * time.Minute)}}
	if !equalScaleEvents(rebuilt.ScaleUp, wantUp) {
		t.Errorf("scale-up events = %v, want %v", rebuilt.ScaleUp, wantUp)
	}
	if !equalScaleEvents(rebuilt.ScaleDown, wantDown) {
		t.Errorf("scale-down events = %v, want %v", rebuilt.ScaleDown, wantDown)
	}
	if !notesContain(rebuilt.Notes, "size before the first rescale (to 2") {
		t.Errorf("notes %q do not state that the first rescale is not counted", rebuilt.Notes)
	}
}

func TestRebuildScaleEventsRepeatedEvent(t *testing.T) {
	base := memoryTestNow.Add(-10 * time.Minute)
	repeated := rescaleEvent("up", 4, base.Add(5*time.Minute))
	repeated.FirstTimestamp = metav1.NewTime(base.Add(time.Minute))
	repeated.Count = 3
	events := []corev1.Event{
		rescaleEvent("start", 2, base),
		repeated,
		rescaleEvent("down", 2, base.Add(3*time.Minute)),
	}

	rebuilt := RebuildScaleEvents(testHPA(4), events, memoryTestNow)

	wantUp := []hpa.ScaleEvent{
		{ReplicaChange: 2, Timestamp: base.Add(time.Minute)},
		{ReplicaChange: 2, Timestamp: base.Add(5 * time.Minute)},
	}
	wantDown := []hpa.ScaleEvent{{ReplicaChange: 2, Timestamp: base.Add(3 * time.Minute)}}
	if !equalScaleEvents(rebuilt.ScaleUp, wantUp) {
		t.Errorf("scale-up events = %v, want %v", rebuilt.ScaleUp, wantUp)
	}
	if !equalScaleEvents(rebuilt.ScaleDown, wantDown) {
		t.Errorf("scale-down events = %v, want %v", rebuilt.ScaleDown, wantDown)
	}
	if !notesContain(rebuilt.Notes, "happened 3 times; 1 occurrence(s)") {
		t.Errorf("notes %q do not report the occurrence without a time", rebuilt.Notes)
	}
}

func TestRebuildScaleEventsIgnoresFuture(t *testing.T) {
	events := []corev1.Event{
		rescaleEvent("a", 2, memoryTestNow.Add(-time.Minute)),
		rescaleEvent("b", 4, memoryTestNow.Add(-30*time.Second)),
		rescaleEvent("later", 8, memoryTestNow.Add(time.Minute)),
	}
	rebuilt := RebuildScaleEvents(testHPA(4), events, memoryTestNow)

	if len(rebuilt.ScaleUp) != 1 || rebuilt.ScaleUp[0].ReplicaChange != 2 {
		t.Errorf("scale-up events = %v, want one change of 2", rebuilt.ScaleUp)
	}
	if !notesContain(rebuilt.Notes, "after the evaluation time") {
		t.Errorf("notes %q do not report the ignored future event", rebuilt.Notes)
	}
}

func TestRebuildScaleEventsStatusMismatch(t *testing.T) {
	events := []corev1.Event{
		rescaleEvent("a", 2, memoryTestNow.Add(-time.Minute)),
		rescaleEvent("b", 4, memoryTestNow.Add(-30*time.Second)),
	}
	rebuilt := RebuildScaleEvents(testHPA(6), events, memoryTestNow)
	if !notesContain(rebuilt.Notes, "status.currentReplicas is 6") {
		t.Errorf("notes %q do not report that the replicas changed outside the HPA", rebuilt.Notes)
	}
}

func TestRebuildScaleEventsUnexpectedMessage(t *testing.T) {
	event := rescaleEvent("odd", 2, memoryTestNow.Add(-time.Minute))
	event.Message = "scaled somehow"
	rebuilt := RebuildScaleEvents(testHPA(2), []corev1.Event{event}, memoryTestNow)
	if len(rebuilt.ScaleUp)+len(rebuilt.ScaleDown) != 0 {
		t.Errorf("rebuilt %v and %v from an unparsable message, want nothing", rebuilt.ScaleUp, rebuilt.ScaleDown)
	}
	if !notesContain(rebuilt.Notes, "unexpected message") {
		t.Errorf("notes %q do not report the unexpected message", rebuilt.Notes)
	}
}

func TestEventTimeOrder(t *testing.T) {
	first := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
	last := first.Add(time.Hour)
	tests := []struct {
		name  string
		event corev1.Event
		want  time.Time
	}{
		{name: "lastTimestamp wins", event: corev1.Event{FirstTimestamp: metav1.NewTime(first), LastTimestamp: metav1.NewTime(last)}, want: last},
		{name: "eventTime without lastTimestamp", event: corev1.Event{EventTime: metav1.NewMicroTime(last)}, want: last},
		{name: "series last observed", event: corev1.Event{EventTime: metav1.NewMicroTime(first), Series: &corev1.EventSeries{LastObservedTime: metav1.NewMicroTime(last)}}, want: last},
		{name: "firstTimestamp only", event: corev1.Event{FirstTimestamp: metav1.NewTime(first)}, want: first},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			if got := EventTime(&test.event); !got.Equal(test.want) {
				t.Errorf("EventTime = %v, want %v", got, test.want)
			}
		})
	}
}

func TestMemoryForPrefersFile(t *testing.T) {
	hpaObj := testHPA(3)
	hpaObj.Spec.Behavior = &autoscalingv2.HorizontalPodAutoscalerBehavior{}
	fromFile := hpa.Memory{Recommendations: []hpa.Recommendation{{Replicas: 5, Timestamp: memoryTestNow}}}
	memories := map[types.NamespacedName]hpa.Memory{{Namespace: "mlflow", Name: "mlflow"}: fromFile}

	memory, notes := New("test").MemoryFor(hpaObj, memories, memoryTestNow)
	if len(memory.Recommendations) != 1 || memory.Recommendations[0].Replicas != 5 {
		t.Errorf("recommendations = %v, want the file's", memory.Recommendations)
	}
	// The report describes where the memory came from; no caveat applies to a memory file.
	if len(notes) != 0 {
		t.Errorf("notes = %q, want none", notes)
	}
}

func TestMemoryForRebuildsEvents(t *testing.T) {
	hpaObj := testHPA(4)
	hpaObj.Spec.Behavior = &autoscalingv2.HorizontalPodAutoscalerBehavior{}
	snapshot := New("test")
	snapshot.Events = []corev1.Event{
		rescaleEvent("a", 2, memoryTestNow.Add(-time.Minute)),
		rescaleEvent("b", 4, memoryTestNow.Add(-30*time.Second)),
	}

	memory, notes := snapshot.MemoryFor(hpaObj, nil, memoryTestNow)
	if memory.Recommendations != nil {
		t.Errorf("recommendations = %v, want nil for a fresh controller", memory.Recommendations)
	}
	if len(memory.ScaleUpEvents) != 1 {
		t.Errorf("scale-up events = %v, want 1 rebuilt event", memory.ScaleUpEvents)
	}
	if !notesContain(notes, "size before the first rescale") {
		t.Errorf("notes %q do not state the unknown size before the first rescale", notes)
	}
}

func equalScaleEvents(a, b []hpa.ScaleEvent) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].ReplicaChange != b[i].ReplicaChange || !a[i].Timestamp.Equal(b[i].Timestamp) {
			return false
		}
	}
	return true
}

func notesContain(notes []string, part string) bool {
	for _, note := range notes {
		if strings.Contains(note, part) {
			return true
		}
	}
	return false
}
