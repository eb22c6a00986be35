# A few users to start from; the load test registers the rest (user_<n>, password = name).
3.times do |i|
  name = "seed_#{i}"
  user = User.find_or_create_by!(username: name) { |u| u.password = name }
  ExpertProfile.find_or_create_by!(user: user)
end
