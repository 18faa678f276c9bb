//go:build windows && go1.19 && !go1.20

package main

// Byte offset of mappedReady in runtime.gcControllerState (Go 1.19, amd64),
// read from the DWARF of a go1.19.8 windows/amd64 binary.  Checked at start
// (selfCheckMappedReady) against Go's own sysAlloc/sysFree accounting.
const mappedReadyOffset = 344
