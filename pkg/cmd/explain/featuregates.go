package explain

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/kubectl-mlflow/kubectl-mlflow/pkg/hpa"
)

// featureGateFlag parses --feature-gates in kube-controller-manager's form: Name=true,Name=false.
type featureGateFlag struct {
	gates *map[string]bool
}

func newFeatureGateFlag(gates *map[string]bool) *featureGateFlag {
	return &featureGateFlag{gates: gates}
}

func (f *featureGateFlag) String() string {
	if f.gates == nil || *f.gates == nil {
		return ""
	}
	var parts []string
	for name, on := range *f.gates {
		parts = append(parts, fmt.Sprintf("%s=%t", name, on))
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

func (f *featureGateFlag) Set(value string) error {
	if *f.gates == nil {
		*f.gates = map[string]bool{}
	}
	for _, part := range strings.Split(value, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, raw, found := strings.Cut(part, "=")
		if !found {
			return fmt.Errorf("invalid feature gate %q: use Name=true or Name=false", part)
		}
		name = strings.TrimSpace(name)
		if !gateName.MatchString(name) {
			return fmt.Errorf("invalid feature gate name %q in %q: a name has only letters and digits, for example HPAScaleToZero", name, part)
		}
		on, err := strconv.ParseBool(strings.TrimSpace(raw))
		if err != nil {
			return fmt.Errorf("invalid value %q for feature gate %s: use true or false", raw, name)
		}
		(*f.gates)[name] = on
	}
	return nil
}

func (f *featureGateFlag) Type() string { return "mapStringBool" }

// gateName matches the names of Kubernetes feature gates, such as HPAScaleToZero.
var gateName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]*$`)

// knownGates are the gates that change HPA decisions in kube-controller-manager v1.37.
var knownGates = []string{"HPAScaleToZero", "HPAConfigurableTolerance", "PodLevelResources", "HPAGeneration"}

// applyFeatureGates sets the known gates of values in target. Users paste the controller's whole
// --feature-gates flag, so other gates are accepted with one warning each, sorted by name. Of the
// parsed values, only HPAConfigurableTolerance=false is rejected; the flag's Set rejects malformed ones.
func applyFeatureGates(target *hpa.FeatureGates, values map[string]bool) ([]string, error) {
	names := make([]string, 0, len(values))
	for name := range values {
		names = append(names, name)
	}
	sort.Strings(names)

	var warnings []string
	for _, name := range names {
		on := values[name]
		switch name {
		case "HPAScaleToZero":
			target.HPAScaleToZero = on
		case "HPAConfigurableTolerance":
			// GA and locked to true in v1.37: kube-controller-manager rejects false.
			if !on {
				return nil, fmt.Errorf("invalid --feature-gates HPAConfigurableTolerance=false: the gate is locked to true in Kubernetes v1.37")
			}
			target.HPAConfigurableTolerance = true
		case "PodLevelResources":
			target.PodLevelResources = on
		case "HPAGeneration":
			target.HPAGeneration = on
		case "AllAlpha", "AllBeta":
			// NOTE: these set every alpha or beta gate, which may include HPA gates, but this tool
			// does not track the stage of each gate, so it cannot apply them.
			warnings = append(warnings, fmt.Sprintf("feature gate %s is ignored: set the gates that change HPA decisions (%s) by name", name, strings.Join(knownGates, ", ")))
		default:
			warnings = append(warnings, fmt.Sprintf("feature gate %s is ignored: it is not one of the gates that change HPA decisions (%s); check the spelling if you meant one of them",
				name, strings.Join(knownGates, ", ")))
		}
	}
	return warnings, nil
}
