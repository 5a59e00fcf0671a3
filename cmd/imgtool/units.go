package main

import (
	"fmt"
	"time"
)

// humanSize is docker's units.HumanSizeWithPrecision(size, 3): decimal units.
func humanSize(size int64) string { return humanSizePrec(size, 3) }

// humanSizePrec is units.HumanSizeWithPrecision (units.HumanSize is 4).
func humanSizePrec(size int64, prec int) string {
	units := []string{"B", "kB", "MB", "GB", "TB", "PB", "EB"}
	f := float64(size)
	i := 0
	for f >= 1000 && i < len(units)-1 {
		f /= 1000
		i++
	}
	return fmt.Sprintf("%.*g%s", prec, f, units[i])
}

// humanDuration is docker's units.HumanDuration, used as "<d> ago".
func humanDuration(d time.Duration) string {
	if s := int(d.Seconds()); s < 1 {
		return "Less than a second"
	} else if s == 1 {
		return "1 second"
	} else if s < 60 {
		return fmt.Sprintf("%d seconds", s)
	} else if m := int(d.Minutes()); m == 1 {
		return "About a minute"
	} else if m < 60 {
		return fmt.Sprintf("%d minutes", m)
	} else if h := int(d.Hours() + 0.5); h == 1 {
		return "About an hour"
	} else if h < 48 {
		return fmt.Sprintf("%d hours", h)
	} else if h < 24*7*2 {
		return fmt.Sprintf("%d days", h/24)
	} else if h < 24*30*2 {
		return fmt.Sprintf("%d weeks", h/24/7)
	} else if h < 24*365*2 {
		return fmt.Sprintf("%d months", h/24/30)
	}
	return fmt.Sprintf("%d years", int(d.Hours())/24/365)
}

// sinceUnix is docker's "<d> ago" of a Unix time in seconds, measured
// from now as docker's listings measure it.
func sinceUnix(sec int64) string {
	return humanDuration(time.Now().UTC().Sub(time.Unix(sec, 0))) + " ago"
}
