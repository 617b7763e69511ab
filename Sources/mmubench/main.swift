import MMU
print("mmubench")
