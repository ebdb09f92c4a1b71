package explain

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kubectl-mlflow/kubectl-mlflow/pkg/hpa"
)

// maxListedHPAs bounds the HPA names that one warning lists, so that a warning stays one readable
// line with -A.
const maxListedHPAs = 10

// checkMemoryTimes returns an error for each recommendation and scale event in memories that is
// timestamped after now, because the controller cannot have stored it at the evaluation time.
// nowSource names the origin of now in the message, such as "--now" or "the current time".
func checkMemoryTimes(file string, memories map[types.NamespacedName]hpa.Memory, now time.Time, nowSource string) error {
	var problems []error
	after := func(key types.NamespacedName, list string, index int, timestamp time.Time) {
		if !timestamp.After(now) {
			return
		}
		problems = append(problems, fmt.Errorf("%s: HPA %s: %s[%d] is timestamped %s, after the evaluation time %s (%s): the controller cannot have stored it yet, so fix the timestamp or pass --now with a time at or after it",
			file, key, list, index, formatTime(timestamp), formatTime(now), nowSource))
	}

	for _, key := range sortedKeys(memories) {
		memory := memories[key]
		for i, recommendation := range memory.Recommendations {
			after(key, "recommendations", i, recommendation.Timestamp)
		}
		for i, event := range memory.ScaleUpEvents {
			after(key, "scaleUpEvents", i, event.Timestamp)
		}
		for i, event := range memory.ScaleDownEvents {
			after(key, "scaleDownEvents", i, event.Timestamp)
		}
	}
	return errors.Join(problems...)
}

// warnUnmatchedMemory writes a warning for each entry of memories that matches none of the HPAs
// that were read, which is most often a misspelt namespace or name. Entries for HPAs that were read
// but not selected (a memory file for a whole namespace, one HPA explained) are expected.
func warnUnmatchedMemory(out io.Writer, file string, memories map[types.NamespacedName]hpa.Memory, read []autoscalingv2.HorizontalPodAutoscaler) {
	matched := map[types.NamespacedName]bool{}
	names := make([]string, 0, len(read))
	for i := range read {
		key := types.NamespacedName{Namespace: read[i].Namespace, Name: read[i].Name}
		matched[key] = true
		names = append(names, key.String())
	}
	for _, key := range sortedKeys(memories) {
		if matched[key] {
			continue
		}
		fmt.Fprintf(out, "Warning: %s has an entry for HPA %s, which matches none of the HPAs read (%s): check its namespace and name\n",
			file, key, listNames(names))
	}
}

// listNames joins names, listing at most maxListedHPAs of them.
func listNames(names []string) string {
	if len(names) <= maxListedHPAs {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:maxListedHPAs], ", "), len(names)-maxListedHPAs)
}

func sortedKeys(memories map[types.NamespacedName]hpa.Memory) []types.NamespacedName {
	keys := make([]types.NamespacedName, 0, len(memories))
	for key := range memories {
		keys = append(keys, key)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
	return keys
}

func formatTime(t time.Time) string {
	return t.UTC().Format(time.RFC3339)
}
