//go:build windows && go1.26 && !go1.27

package main

// Byte offset of mappedReady in runtime.gcControllerState (Go 1.26, amd64),
// read from the DWARF of a go1.26.8 windows/amd64 binary.  Checked at start.
const mappedReadyOffset = 312
