from common.entry import producer

producer()
