print("strongroom")
