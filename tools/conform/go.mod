module memwin.local/conform

go 1.19
