package memwin

// libraryExports lists memwin.def: every function the library exports, in
// the order the run-time loader (raw_dll_windows.go) binds them.  A test
// checks it against ../memwin.def.
var libraryExports = [...]string{
	"sysAllocOS", "sysUnusedOS", "sysUsedOS", "sysHugePageOS", "sysNoHugePageOS",
	"sysHugePageCollapseOS", "sysFreeOS", "sysFaultOS", "sysReserveOS", "sysMapOS",
	"needZeroAfterSysUnusedOS", "sysAlloc", "sysUnused", "sysUsed", "sysHugePage",
	"sysNoHugePage", "sysHugePageCollapse", "sysFree", "sysFault", "sysReserve", "sysMap",
	"sysUnreserve", "sysReserveAligned", "needZeroAfterSysUnused", "memwin_stat_load",
	"memwin_stat_add", "memwin_mapped_ready", "memwin_version", "memwin_go_version",
	"memwin_query", "memwin_set_fatal_handler", "memwin_default_fatal", "memwin_prim_host",
	"memwin_prim_current", "memwin_prim_set", "memwin_fault_set", "memwin_fault_clear",
	"memwin_fault_seen", "memwin_fault_failed", "memwin_heap_strerror", "memwin_mheap_init",
	"mHeapMapBits", "mHeapMapSpans", "memwin_mheap_grow", "memwin_mheap_destroy",
	"memwin_memory_status_get", "memwin_set_oom_status_report", "memwin_large_pages_get",
	"memwin_set_mode", "memwin_get_mode", "memwin_last_error", "memwin_last_error_message",
	"memwin_get_fatal_handler",
	"memwin_VirtualAlloc", "memwin_VirtualFree", "memwin_interpose_init",
	"memwin_interpose_set_next", "memwin_interpose_get_stats", "memwin_interpose_set_policy",
	"memwin_interpose_get_policy", "memwin_interpose_flush", "memwin_interpose_prim",
	"memwin_interpose_catch_fatal", "memwin_interpose_fatal_flag", "memwin_interpose_fatal_take",
	"memwin_reserve_aligned", "memwin_reserve_aligned_native", "memwin_set_reserve_aligned_one_call",
}
