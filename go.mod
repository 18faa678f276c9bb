module github.com/memwin/memwin

go 1.19
