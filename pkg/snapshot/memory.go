package snapshot

import (
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strconv"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-mlflow/kubectl-mlflow/pkg/hpa"
)

// The controller memory file records what the HPA controller keeps only in its process memory, so
// that a decision can be explained with a known history instead of a fresh controller's:
//
//	apiVersion: kubectl-mlflow.io/v1alpha1
//	kind: ControllerMemory
//	hpas:
//	- namespace: mlflow
//	  name: mlflow
//	  recommendations:            # raw desired replicas the controller stored, oldest first
//	  - {replicas: 4, timestamp: "2026-12-04T10:00:00Z"}
//	  scaleUpEvents:              # rescales within the longest scaleUp policy period
//	  - {replicaChange: 2, timestamp: "2026-12-04T09:59:00Z"}
//	  scaleDownEvents: []
//
// Timestamps are RFC 3339. An HPA without recommendations gets the memory of a fresh controller,
// which stores the current replica count at its first reconcile. Unknown fields are rejected, so a
// misspelt key does not silently leave a list empty.
const (
	MemoryAPIVersion = "kubectl-mlflow.io/v1alpha1"
	MemoryKind       = "ControllerMemory"
)

// MemoryFile is the decoded controller memory file.
type MemoryFile struct {
	APIVersion string      `json:"apiVersion"`
	Kind       string      `json:"kind"`
	HPAs       []HPAMemory `json:"hpas"`
}

// HPAMemory is the controller memory of one HPA.
type HPAMemory struct {
	Namespace       string                 `json:"namespace"`
	Name            string                 `json:"name"`
	Recommendations []RecommendationRecord `json:"recommendations,omitempty"`
	ScaleUpEvents   []ScaleEventRecord     `json:"scaleUpEvents,omitempty"`
	ScaleDownEvents []ScaleEventRecord     `json:"scaleDownEvents,omitempty"`
}

// RecommendationRecord is one stored recommendation. Timestamp stays a string so that a bad
// value is reported with its position in the file.
type RecommendationRecord struct {
	Replicas  int32  `json:"replicas"`
	Timestamp string `json:"timestamp"`
}

// ScaleEventRecord is one stored scale event.
type ScaleEventRecord struct {
	ReplicaChange int32  `json:"replicaChange"`
	Timestamp     string `json:"timestamp"`
}

// LoadMemoryFile reads a controller memory file; path "-" reads stdin.
func LoadMemoryFile(path string, stdin io.Reader) (map[types.NamespacedName]hpa.Memory, error) {
	var data []byte
	var err error
	if path == "-" {
		data, err = io.ReadAll(stdin)
	} else {
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("failed to read controller memory file: %w", err)
	}
	return ParseMemory(path, data)
}

// ParseMemory decodes and validates a controller memory file read from name, and returns the
// memory of each HPA it lists. Every problem is reported, each with its position in the file.
func ParseMemory(name string, data []byte) (map[types.NamespacedName]hpa.Memory, error) {
	var file MemoryFile
	if err := yaml.UnmarshalStrict(data, &file); err != nil {
		return nil, fmt.Errorf("%s: invalid controller memory file: %w", name, err)
	}

	var problems []error
	if file.APIVersion != MemoryAPIVersion || file.Kind != MemoryKind {
		problems = append(problems, fmt.Errorf("%s: apiVersion %q and kind %q are not supported: set apiVersion: %s and kind: %s",
			name, file.APIVersion, file.Kind, MemoryAPIVersion, MemoryKind))
	}

	memories := map[types.NamespacedName]hpa.Memory{}
	for i, entry := range file.HPAs {
		at := fmt.Sprintf("%s: hpas[%d]", name, i)
		if entry.Name == "" {
			problems = append(problems, fmt.Errorf("%s: name is missing: set the HPA's name", at))
			continue
		}
		if entry.Namespace == "" {
			entry.Namespace = "default"
		}
		key := types.NamespacedName{Namespace: entry.Namespace, Name: entry.Name}
		if _, duplicate := memories[key]; duplicate {
			problems = append(problems, fmt.Errorf("%s: HPA %s is listed twice: merge the two entries", at, key))
			continue
		}
		memory, entryProblems := convertHPAMemory(at, entry)
		problems = append(problems, entryProblems...)
		memories[key] = memory
	}
	if len(problems) > 0 {
		return nil, errors.Join(problems...)
	}
	return memories, nil
}

func convertHPAMemory(at string, entry HPAMemory) (hpa.Memory, []error) {
	var problems []error
	memory := hpa.Memory{}
	for i, record := range entry.Recommendations {
		field := fmt.Sprintf("%s.recommendations[%d]", at, i)
		if record.Replicas < 0 {
			problems = append(problems, fmt.Errorf("%s: replicas is %d: set it to 0 or more", field, record.Replicas))
		}
		timestamp, err := parseTimestamp(field, record.Timestamp)
		if err != nil {
			problems = append(problems, err)
		}
		memory.Recommendations = append(memory.Recommendations, hpa.Recommendation{Replicas: record.Replicas, Timestamp: timestamp})
	}
	memory.ScaleUpEvents, problems = convertScaleEvents(at+".scaleUpEvents", entry.ScaleUpEvents, problems)
	memory.ScaleDownEvents, problems = convertScaleEvents(at+".scaleDownEvents", entry.ScaleDownEvents, problems)
	return memory, problems
}

func convertScaleEvents(at string, records []ScaleEventRecord, problems []error) ([]hpa.ScaleEvent, []error) {
	var events []hpa.ScaleEvent
	for i, record := range records {
		field := fmt.Sprintf("%s[%d]", at, i)
		if record.ReplicaChange < 0 {
			problems = append(problems, fmt.Errorf("%s: replicaChange is %d: give the absolute change, 0 or more", field, record.ReplicaChange))
		}
		timestamp, err := parseTimestamp(field, record.Timestamp)
		if err != nil {
			problems = append(problems, err)
		}
		events = append(events, hpa.ScaleEvent{ReplicaChange: record.ReplicaChange, Timestamp: timestamp})
	}
	return events, problems
}

func parseTimestamp(field, value string) (time.Time, error) {
	if value == "" {
		return time.Time{}, fmt.Errorf("%s: timestamp is missing: set an RFC 3339 time such as 2026-12-04T10:00:00Z", field)
	}
	timestamp, err := time.Parse(time.RFC3339, value)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s: timestamp %q is invalid: use an RFC 3339 time such as 2026-12-04T10:00:00Z", field, value)
	}
	return timestamp, nil
}

// RebuiltScaleEvents are scale events recovered from SuccessfulRescale Events, with the
// assumptions made to recover them.
type RebuiltScaleEvents struct {
	ScaleUp   []hpa.ScaleEvent
	ScaleDown []hpa.ScaleEvent
	Notes     []string
}

var rescaleMessage = regexp.MustCompile(`^New size: (\d+); reason: `)

// rescale is one known occurrence of a SuccessfulRescale event.
type rescale struct {
	newSize   int32
	timestamp time.Time
}

// RebuildScaleEvents recovers the HPA controller's scale events of hpaObj from its SuccessfulRescale
// Events ("New size: N; reason: ..."), for rescales at or before now.
//
// Limits, each reported in Notes when it applies:
//   - The message gives only the new size, so the change of a rescale is its new size minus the
//     previous rescale's new size. The size before the first rescale is unknown, so the first
//     rescale is left out.
//   - An Event repeated count times is known only at its firstTimestamp and lastTimestamp, so the
//     count-2 occurrences between them are left out.
//   - Rescales made by anything other than the HPA (kubectl scale, a deploy) have no such Event and
//     make the computed changes wrong.
//   - The API server deletes Events after its --event-ttl (1 hour by default).
func RebuildScaleEvents(hpaObj *autoscalingv2.HorizontalPodAutoscaler, events []corev1.Event, now time.Time) RebuiltScaleEvents {
	var rebuilt RebuiltScaleEvents
	var rescales []rescale
	for i := range events {
		event := &events[i]
		if !isRescaleEventOf(event, hpaObj) {
			continue
		}
		match := rescaleMessage.FindStringSubmatch(event.Message)
		if match == nil {
			rebuilt.Notes = append(rebuilt.Notes, fmt.Sprintf("Event %s has an unexpected message %q and was skipped", event.Name, event.Message))
			continue
		}
		size, err := strconv.ParseInt(match[1], 10, 32)
		if err != nil {
			rebuilt.Notes = append(rebuilt.Notes, fmt.Sprintf("Event %s has an invalid new size %q and was skipped", event.Name, match[1]))
			continue
		}
		rescales = append(rescales, occurrences(event, int32(size), &rebuilt.Notes)...)
	}

	sort.SliceStable(rescales, func(i, j int) bool { return rescales[i].timestamp.Before(rescales[j].timestamp) })
	var known []rescale
	for _, r := range rescales {
		if !r.timestamp.After(now) {
			known = append(known, r)
		}
	}
	if skipped := len(rescales) - len(known); skipped > 0 {
		rebuilt.Notes = append(rebuilt.Notes, fmt.Sprintf("%d SuccessfulRescale occurrence(s) after the evaluation time %s were ignored", skipped, now.UTC().Format(time.RFC3339)))
	}
	if len(known) == 0 {
		return rebuilt
	}

	first := known[0]
	rebuilt.Notes = append(rebuilt.Notes, fmt.Sprintf("the size before the first rescale (to %d at %s) is unknown, so that rescale is not counted in the scale rate limits",
		first.newSize, first.timestamp.UTC().Format(time.RFC3339)))
	for i := 1; i < len(known); i++ {
		change := known[i].newSize - known[i-1].newSize
		switch {
		case change > 0:
			rebuilt.ScaleUp = append(rebuilt.ScaleUp, hpa.ScaleEvent{ReplicaChange: change, Timestamp: known[i].timestamp})
		case change < 0:
			rebuilt.ScaleDown = append(rebuilt.ScaleDown, hpa.ScaleEvent{ReplicaChange: -change, Timestamp: known[i].timestamp})
		}
	}

	last := known[len(known)-1]
	if current := hpaObj.Status.CurrentReplicas; current != 0 && current != last.newSize {
		rebuilt.Notes = append(rebuilt.Notes, fmt.Sprintf("the last SuccessfulRescale set %d replicas but status.currentReplicas is %d: something other than the HPA changed the replicas, so the rebuilt changes may be wrong",
			last.newSize, current))
	}
	return rebuilt
}

// occurrences returns the known occurrences of a possibly repeated Event.
func occurrences(event *corev1.Event, size int32, notes *[]string) []rescale {
	last := EventTime(event)
	if last.IsZero() {
		*notes = append(*notes, fmt.Sprintf("Event %s has no timestamp and was skipped", event.Name))
		return nil
	}
	result := []rescale{{newSize: size, timestamp: last}}
	if event.Count <= 1 {
		return result
	}
	first := event.FirstTimestamp.Time
	if !first.IsZero() && first.Before(last) {
		result = append(result, rescale{newSize: size, timestamp: first})
	}
	if missing := event.Count - int32(len(result)); missing > 0 {
		*notes = append(*notes, fmt.Sprintf("Event %s (%q) happened %d times; %d occurrence(s) between its first and last timestamps have no known time and were left out",
			event.Name, event.Message, event.Count, missing))
	}
	return result
}

func isRescaleEventOf(event *corev1.Event, hpaObj *autoscalingv2.HorizontalPodAutoscaler) bool {
	ref := event.InvolvedObject
	if event.Reason != "SuccessfulRescale" || ref.Kind != "HorizontalPodAutoscaler" || ref.Name != hpaObj.Name {
		return false
	}
	if ref.Namespace != "" && ref.Namespace != hpaObj.Namespace {
		return false
	}
	// An Event of an earlier HPA with the same name has another UID.
	return ref.UID == "" || hpaObj.UID == "" || ref.UID == hpaObj.UID
}

// EventTime returns when an Event last happened: lastTimestamp, else the events.k8s.io
// eventTime (series.lastObservedTime when set), else firstTimestamp, else the creation time.
func EventTime(event *corev1.Event) time.Time {
	switch {
	case !event.LastTimestamp.IsZero():
		return event.LastTimestamp.Time
	case event.Series != nil && !event.Series.LastObservedTime.IsZero():
		return event.Series.LastObservedTime.Time
	case !event.EventTime.IsZero():
		return event.EventTime.Time
	case !event.FirstTimestamp.IsZero():
		return event.FirstTimestamp.Time
	default:
		return event.CreationTimestamp.Time
	}
}

// MemoryFor returns the controller memory to assume for hpaObj, with notes on its origin: the
// entry of memories when there is one, else a fresh controller's recommendations with scale events
// rebuilt from the snapshot's Events when hpaObj has spec.behavior.
func (s *Snapshot) MemoryFor(hpaObj *autoscalingv2.HorizontalPodAutoscaler, memories map[types.NamespacedName]hpa.Memory, now time.Time) (hpa.Memory, []string) {
	key := types.NamespacedName{Namespace: hpaObj.Namespace, Name: hpaObj.Name}
	if memory, found := memories[key]; found {
		return memory.Clone(), nil
	}

	// The report describes the memory used; the notes here are only the caveats of building it.
	var notes []string
	if hpaObj.Spec.Behavior == nil {
		return hpa.Memory{}, notes
	}
	if _, unreadable := s.Unavailable[EventsResource]; unreadable {
		notes = append(notes, "Events could not be read, so no scale events are assumed")
		return hpa.Memory{}, notes
	}
	rebuilt := RebuildScaleEvents(hpaObj, s.Events, now)
	notes = append(notes, rebuilt.Notes...)
	return hpa.Memory{ScaleUpEvents: rebuilt.ScaleUp, ScaleDownEvents: rebuilt.ScaleDown}, notes
}
