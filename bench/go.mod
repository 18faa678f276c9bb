module memwin.local/bench

go 1.25
