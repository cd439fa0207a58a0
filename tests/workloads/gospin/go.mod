module sonde.test/gospin

go 1.19
