print("memctl")
