module chan_block

go 1.17
