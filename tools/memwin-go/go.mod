module memwin.local/memwin-go

go 1.19

require memwin.local/conform v0.0.0

replace memwin.local/conform => ../conform
