from common.entry import sender

sender()
