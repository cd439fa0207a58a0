module example.com/sonde/gosym_workload

go 1.19
