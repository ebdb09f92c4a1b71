package snapshot

import (
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	sigsjson "sigs.k8s.io/json"
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

// LoadMemoryFile reads a controller memory file; path "-" reads stdin, which errors call "stdin".
func LoadMemoryFile(path string, stdin io.Reader) (map[types.NamespacedName]hpa.Memory, error) {
	var data []byte
	var err error
	name := path
	if path == StdinSource {
		data, err = io.ReadAll(stdin)
		name = "stdin"
	} else {
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("failed to read controller memory file: %w", err)
	}
	return ParseMemory(name, data)
}

// ParseMemory decodes and validates a controller memory file read from name, and returns the
// memory of each HPA it lists. Every problem is reported, each with its position in the file.
func ParseMemory(name string, data []byte) (map[types.NamespacedName]hpa.Memory, error) {
	file, problems, err := decodeMemoryFile(name, data)
	if err != nil {
		return nil, err
	}

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

// decodeMemoryFile decodes a controller memory file in YAML or JSON. A syntax error, a duplicate
// key or a value of the wrong type is returned as err. Unknown fields are returned as problems,
// each naming its position and the valid fields there, so that they are reported together with the
// problems that validation finds later.
func decodeMemoryFile(name string, data []byte) (MemoryFile, []error, error) {
	var file MemoryFile
	jsonData, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		return file, nil, fmt.Errorf("%s: invalid controller memory file: %w", name, err)
	}
	strictErrors, err := sigsjson.UnmarshalStrict(jsonData, &file, sigsjson.DisallowUnknownFields)
	if err != nil {
		return file, nil, fmt.Errorf("%s: invalid controller memory file: %w", name, describeTypeError(err))
	}

	var problems []error
	for _, strictErr := range strictErrors {
		var fieldErr sigsjson.FieldError
		if !errors.As(strictErr, &fieldErr) {
			problems = append(problems, fmt.Errorf("%s: %w", name, strictErr))
			continue
		}
		problems = append(problems, unknownMemoryField(name, fieldErr.FieldPath()))
	}
	return file, problems, nil
}

// memoryFieldParent matches the path of a field inside an hpas entry or inside one of its lists.
var memoryFieldParent = regexp.MustCompile(`^(hpas\[\d+\](?:\.(recommendations|scaleUpEvents|scaleDownEvents)\[\d+\])?)\.(.+)$`)

// unknownMemoryField describes an unknown field at path, such as "hpas[0].recomendations", with the
// fields that are valid at that position.
func unknownMemoryField(name, path string) error {
	var valid reflect.Type
	parent, field := "", path
	if match := memoryFieldParent.FindStringSubmatch(path); match != nil {
		parent, field = match[1], match[3]
		switch match[2] {
		case "":
			valid = reflect.TypeFor[HPAMemory]()
		case "recommendations":
			valid = reflect.TypeFor[RecommendationRecord]()
		default:
			valid = reflect.TypeFor[ScaleEventRecord]()
		}
	} else {
		valid = reflect.TypeFor[MemoryFile]()
	}

	where := "at the top level"
	if parent != "" {
		where = "in " + parent
	}
	return fmt.Errorf("%s: unknown field %q %s: the valid fields there are %s", name, field, where, strings.Join(jsonFieldNames(valid), ", "))
}

// jsonFieldNames returns the JSON names of the fields of a struct type, in declaration order.
func jsonFieldNames(structType reflect.Type) []string {
	var names []string
	for field := range structType.Fields() {
		name, _, _ := strings.Cut(field.Tag.Get("json"), ",")
		if name != "" && name != "-" {
			names = append(names, name)
		}
	}
	return names
}

// describeTypeError rewrites a decoding error about a value of the wrong type, such as a string
// given for replicas, without the Go and JSON terms of the decoder. Other errors are returned
// unchanged.
func describeTypeError(err error) error {
	// sigs.k8s.io/json returns the UnmarshalTypeError of its internal copy of encoding/json,
	// which errors.As cannot match, so its exported fields are read by reflection.
	value := reflect.ValueOf(err)
	if value.Kind() != reflect.Pointer || value.Elem().Kind() != reflect.Struct || !strings.HasSuffix(value.Elem().Type().Name(), "UnmarshalTypeError") {
		return err
	}
	fields := value.Elem()
	path, isString := fields.FieldByName("Field").Interface().(string)
	given, _ := fields.FieldByName("Value").Interface().(string)
	if !isString || given == "" {
		return err
	}
	if path == "" {
		return fmt.Errorf("the file contains %s: give a mapping with the fields %s", describeValue(given), strings.Join(jsonFieldNames(reflect.TypeFor[MemoryFile]()), ", "))
	}
	want := "a value of another type"
	if goType, isType := fields.FieldByName("Type").Interface().(reflect.Type); isType && goType != nil {
		want = describeKind(goType.Kind())
	}
	return fmt.Errorf("%s is %s: give %s", path, describeValue(given), want)
}

// describeValue names a decoder's value description ("array", "object", "number -5") in YAML terms.
func describeValue(value string) string {
	switch {
	case value == "array":
		return "a list"
	case value == "object":
		return "a mapping"
	case value == "bool":
		return "a boolean"
	case strings.HasPrefix(value, "number "):
		return "the number " + strings.TrimPrefix(value, "number ")
	default:
		return "a " + value
	}
}

func describeKind(kind reflect.Kind) string {
	switch kind {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "a whole number"
	case reflect.String:
		return "a string"
	case reflect.Slice:
		return "a list"
	case reflect.Struct, reflect.Map:
		return "a mapping"
	default:
		return "a " + kind.String()
	}
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
		// The controller records an event only when it rescales, so every change is at least 1.
		if record.ReplicaChange < 1 {
			problems = append(problems, fmt.Errorf("%s.replicaChange is %d: give the absolute change of a rescale, 1 or more", field, record.ReplicaChange))
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
