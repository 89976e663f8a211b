from common.entry import monitor

monitor()
