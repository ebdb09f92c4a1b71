package report

import (
	"fmt"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/kubectl-mlflow/kubectl-mlflow/pkg/hpa"
)

// quantity formats milli-units as a Kubernetes quantity: binary suffixes for memory, as
// metrics-server reports it, decimal otherwise.
func quantity(milli int64, resourceName string) string {
	if resourceName == string(corev1.ResourceMemory) {
		return memoryQuantity(milli)
	}
	return resource.NewMilliQuantity(milli, resource.DecimalSI).String()
}

// memoryQuantity prints milli-bytes as a parseable binary quantity that people can read: exact
// when the value is a whole multiple of a binary unit, else rounded to one decimal of the largest
// unit (622155093333m prints as 593.3Mi). The milli fields of the schema keep the exact value.
func memoryQuantity(milli int64) string {
	bytes := (milli + 500) / 1000
	exact := resource.NewQuantity(bytes, resource.BinarySI).String()
	if bytes < 1024 || strings.IndexFunc(exact, func(r rune) bool { return r < '0' || r > '9' }) >= 0 {
		return exact
	}
	units := []string{"Ki", "Mi", "Gi", "Ti", "Pi", "Ei"}
	value := float64(bytes)
	unit := ""
	for _, next := range units {
		if value < 1024 {
			break
		}
		value /= 1024
		unit = next
	}
	return strconv.FormatFloat(value, 'f', 1, 64) + unit
}

func quantityFields(milli int64, resourceName string) (*string, *int64) {
	return ptr(quantity(milli, resourceName)), ptr(milli)
}

// formatRatio prints a ratio with two decimals, or four when two decimals would print a band end
// that the ratio is not equal to.
func formatRatio(ratio float64, tolerances hpa.Tolerances) string {
	short := strconv.FormatFloat(ratio, 'f', 2, 64)
	for _, end := range []float64{1.0 - tolerances.ScaleDown, 1.0 + tolerances.ScaleUp} {
		if ratio != end && short == strconv.FormatFloat(end, 'f', 2, 64) {
			return strconv.FormatFloat(ratio, 'f', 4, 64)
		}
	}
	return short
}

func formatBand(tolerances hpa.Tolerances) string {
	return fmt.Sprintf("[%s, %s]", strconv.FormatFloat(1.0-tolerances.ScaleDown, 'f', 2, 64),
		strconv.FormatFloat(1.0+tolerances.ScaleUp, 'f', 2, 64))
}

// countLabel names what a calculation multiplies the ratio by.
func countLabel(calculation hpa.Calculation, count int64) string {
	switch calculation {
	case hpa.CalculationObjectValue, hpa.CalculationExternalValue:
		if count == 1 {
			return "Running and Ready pod"
		}
		return "Running and Ready pods"
	}
	if count == 1 {
		return "ready pod"
	}
	return "ready pods"
}

// ruleExpression writes the rule that produced a metric's proposal with its numbers.
func ruleExpression(trace hpa.MetricTrace) string {
	tolerances := trace.Tolerances
	band := formatBand(tolerances)
	var ratio string
	if trace.First != nil {
		ratio = formatRatio(trace.First.Ratio, tolerances)
	}
	switch trace.Rule {
	case hpa.RuleWithinTolerance:
		return fmt.Sprintf("ratio %s is within %s: keep %d", ratio, band, trace.Proposal)
	case hpa.RuleScaleByRatio:
		return fmt.Sprintf("ceil(%s × %d %s) = %d", ratio, trace.First.Count, countLabel(trace.Calculation, trace.First.Count), trace.Proposal)
	case hpa.RuleUsageOverTarget:
		value, target := "?", "?"
		if trace.First.ValueMilli != nil {
			value = quantity(*trace.First.ValueMilli, trace.Resource)
		}
		if trace.Target.AverageValueMilli != nil {
			target = quantity(*trace.Target.AverageValueMilli, trace.Resource)
		}
		return fmt.Sprintf("ceil(value %s / target %s per replica) = %d", value, target, trace.Proposal)
	case hpa.RuleFromZero:
		return fmt.Sprintf("ceil(%s) = %d: the target has 0 replicas, so no tolerance applies", ratio, trace.Proposal)
	}

	if trace.Adjusted == nil {
		return string(trace.Rule)
	}
	adjusted := formatRatio(trace.Adjusted.Ratio, tolerances)
	count := trace.Adjusted.Count
	switch trace.Rule {
	case hpa.RuleAdjustedWithinTolerance:
		return fmt.Sprintf("adjusted ratio %s is within %s: keep %d", adjusted, band, trace.Proposal)
	case hpa.RuleAdjustedDirectionFlip:
		return fmt.Sprintf("adjusted ratio %s is on the other side of 1.0 than ratio %s: keep %d", adjusted, ratio, trace.Proposal)
	case hpa.RuleAdjustedWrongWay:
		wrong := ceilToInt32(trace.Adjusted.Ratio * float64(count))
		return fmt.Sprintf("ceil(%s × %d pods) = %d would move against the ratio: keep %d", adjusted, count, wrong, trace.Proposal)
	case hpa.RuleAdjustedScaleByRatio:
		return fmt.Sprintf("ceil(%s × %d pods, filled-in ones included) = %d", adjusted, count, trace.Proposal)
	}
	return string(trace.Rule)
}
