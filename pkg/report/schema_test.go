package report

import (
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// explanationDocument marshals the golden scenarios and decodes the JSON generically, as a
// consumer of -o json would.
func explanationDocument(t *testing.T) map[string]any {
	t.Helper()
	var items []Item
	for _, s := range goldenScenarios() {
		items = append(items, s.item())
	}
	data, err := json.Marshal(NewExplanation(items))
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	var document map[string]any
	if err := json.Unmarshal(data, &document); err != nil {
		t.Fatalf("unmarshal: %v", err)
	}
	return document
}

// requireField fails unless object has key with a value of the JSON kind want: "string",
// "number", "bool", "object", "array" or "null".
func requireField(t *testing.T, where string, object map[string]any, key, want string) any {
	t.Helper()
	value, ok := object[key]
	if !ok {
		t.Errorf("%s: field %q is missing", where, key)
		return nil
	}
	var got string
	switch value.(type) {
	case string:
		got = "string"
	case float64:
		got = "number"
	case bool:
		got = "bool"
	case map[string]any:
		got = "object"
	case []any:
		got = "array"
	case nil:
		got = "null"
	}
	if got != want {
		t.Errorf("%s: field %q is %s, want %s", where, key, got, want)
	}
	return value
}

func TestExplanationJSONSchema(t *testing.T) {
	document := explanationDocument(t)
	if got := requireField(t, "document", document, "apiVersion", "string"); got != APIVersion {
		t.Errorf("apiVersion = %v, want %s", got, APIVersion)
	}
	if got := requireField(t, "document", document, "kind", "string"); got != Kind {
		t.Errorf("kind = %v, want %s", got, Kind)
	}
	items, _ := requireField(t, "document", document, "items", "array").([]any)
	if len(items) != len(goldenScenarios()) {
		t.Fatalf("items has %d entries, want %d", len(items), len(goldenScenarios()))
	}

	for i, raw := range items {
		item := raw.(map[string]any)
		where := "items[" + goldenScenarios()[i].name + "]"
		for key, kind := range map[string]string{
			"namespace": "string", "name": "string", "scaleTargetRef": "object", "evaluatedAt": "string",
			"currentReplicas": "number", "statusReplicas": "number", "desiredReplicas": "number", "rescale": "bool",
			"verdict": "string", "minReplicas": "number", "maxReplicas": "number", "branch": "string",
			"metrics": "array", "metricDesiredReplicas": "number", "prenormalizedDesiredReplicas": "number",
			"conditions": "array", "events": "array", "memory": "object", "assumptions": "array", "warnings": "array",
		} {
			requireField(t, where, item, key, kind)
		}
		ref, _ := item["scaleTargetRef"].(map[string]any)
		requireField(t, where+".scaleTargetRef", ref, "kind", "string")
		requireField(t, where+".scaleTargetRef", ref, "name", "string")
		for _, c := range item["conditions"].([]any) {
			condition := c.(map[string]any)
			for _, key := range []string{"type", "status", "reason", "message"} {
				requireField(t, where+".conditions[]", condition, key, "string")
			}
		}
		for _, e := range item["events"].([]any) {
			event := e.(map[string]any)
			for _, key := range []string{"type", "reason", "message"} {
				requireField(t, where+".events[]", event, key, "string")
			}
		}
		for _, a := range item["assumptions"].([]any) {
			if _, ok := a.(string); !ok {
				t.Errorf("%s.assumptions has a %T entry, want string", where, a)
			}
		}
	}
}

func TestExplanationJSONMetricFields(t *testing.T) {
	document := explanationDocument(t)
	// The first scenario scales up on cpu utilization, so every metric field is set.
	item := document["items"].([]any)[0].(map[string]any)
	metric := item["metrics"].([]any)[0].(map[string]any)
	for key, kind := range map[string]string{
		"type": "string", "name": "string", "proposedReplicas": "number", "target": "object", "current": "object",
		"ratio": "number", "tolerance": "object", "withinTolerance": "bool", "podGroups": "object", "rule": "object",
		"nextStep": "object",
	} {
		requireField(t, "metric", metric, key, kind)
	}
	current := metric["current"].(map[string]any)
	requireField(t, "metric.current", current, "averageUtilization", "number")
	requireField(t, "metric.current", current, "averageValue", "string")
	requireField(t, "metric.current", current, "averageValueMilli", "number")

	if got := current["averageValue"]; got != "420m" {
		t.Errorf("current.averageValue = %v, want 420m", got)
	}
	tolerance := metric["tolerance"].(map[string]any)
	requireField(t, "metric.tolerance", tolerance, "lower", "number")
	requireField(t, "metric.tolerance", tolerance, "upper", "number")

	groups := metric["podGroups"].(map[string]any)
	for _, key := range []string{"ready", "unready", "missing", "ignored"} {
		requireField(t, "metric.podGroups", groups, key, "array")
	}
	rule := metric["rule"].(map[string]any)
	requireField(t, "metric.rule", rule, "name", "string")
	requireField(t, "metric.rule", rule, "expression", "string")

	next := metric["nextStep"].(map[string]any)
	requireField(t, "metric.nextStep", next, "note", "string")
	up := requireField(t, "metric.nextStep", next, "scaleUp", "object").(map[string]any)
	if got := up["averageUtilization"]; got != float64(78) {
		t.Errorf("nextStep.scaleUp.averageUtilization = %v, want 78", got)
	}

	requireField(t, "item", item, "winningMetric", "object")
	requireField(t, "item", item, "stabilization", "object")
	requireField(t, "item", item, "limited", "object")
}

func TestExplanationJSONErrorAndRateLimit(t *testing.T) {
	document := explanationDocument(t)
	byName := map[string]map[string]any{}
	for i, raw := range document["items"].([]any) {
		byName[goldenScenarios()[i].name] = raw.(map[string]any)
	}

	failed := byName["missing-requests"]
	requireField(t, "missing-requests", failed, "error", "string")
	requireField(t, "missing-requests", failed, "winningMetric", "null")
	metric := failed["metrics"].([]any)[0].(map[string]any)
	metricError := requireField(t, "missing-requests.metrics[0]", metric, "error", "object").(map[string]any)
	requireField(t, "missing-requests.metrics[0].error", metricError, "hint", "string")

	limited := byName["behavior-rate-limit"]
	rateLimit := requireField(t, "behavior-rate-limit", limited, "rateLimit", "object").(map[string]any)
	policies := requireField(t, "behavior-rate-limit.rateLimit", rateLimit, "policies", "array").([]any)
	selected := 0
	for _, p := range policies {
		if p.(map[string]any)["selected"] == true {
			selected++
		}
	}
	if selected != 1 {
		t.Errorf("rateLimit marks %d policies as selected, want 1", selected)
	}
	if got := rateLimit["limit"]; got != float64(5) {
		t.Errorf("rateLimit.limit = %v, want 5", got)
	}
}

func TestExplanationYAML(t *testing.T) {
	data, err := yaml.Marshal(NewExplanation([]Item{goldenScenarios()[0].item()}))
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	for _, want := range []string{"apiVersion: " + APIVersion, "kind: " + Kind, "scaleTargetRef:", "nextStep:"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("YAML output lacks %q", want)
		}
	}
}

func TestNewExplanationEmptyItems(t *testing.T) {
	data, err := json.Marshal(NewExplanation(nil))
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	if !strings.Contains(string(data), `"items":[]`) {
		t.Errorf("empty explanation %s has no items array", data)
	}
}

// TestOutputSchemaDocumented checks that docs/output-schema.md names every JSON field of the
// schema types, so that the documentation keeps up with the code.
func TestOutputSchemaDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/output-schema.md")
	if err != nil {
		t.Fatalf("read the schema documentation: %v", err)
	}
	seen := map[reflect.Type]bool{}
	var walk func(reflect.Type)
	walk = func(typ reflect.Type) {
		for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice {
			typ = typ.Elem()
		}
		if typ.Kind() != reflect.Struct || seen[typ] || typ.PkgPath() != reflect.TypeOf(Item{}).PkgPath() {
			return
		}
		seen[typ] = true
		for i := 0; i < typ.NumField(); i++ {
			field := typ.Field(i)
			walk(field.Type)
			if field.Anonymous {
				continue
			}
			name := strings.Split(field.Tag.Get("json"), ",")[0]
			if !strings.Contains(string(doc), "`"+name+"`") {
				t.Errorf("docs/output-schema.md does not document field %s.%s as `%s`", typ.Name(), field.Name, name)
			}
		}
	}
	walk(reflect.TypeOf(Explanation{}))
}
