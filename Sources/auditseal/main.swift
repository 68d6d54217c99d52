print("auditseal")
