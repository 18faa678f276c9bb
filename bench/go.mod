module memwin.local/bench

go 1.25

require memwin.local/conform v0.0.0

replace memwin.local/conform => ../tools/conform
