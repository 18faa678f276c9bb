module memwin.local/memwin-go

go 1.19
