print("memd")
