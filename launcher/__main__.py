from common.entry import sim

sim()
