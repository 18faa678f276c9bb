//go:build windows && !(go1.19 && !go1.20) && !(go1.26 && !go1.27)

package main

// No verified offset for this Go version: mapped-ready is not recorded for
// the Go side (only the sysMemStat deltas are).
const mappedReadyOffset = -1
