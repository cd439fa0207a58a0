module example.com/sonde/gosym_reference

go 1.19
